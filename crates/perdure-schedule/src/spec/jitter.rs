//! Jitter as Temporal computes it: a 32-bit FarmHash fingerprint of the nominal time (in Go's
//! `time.Time` binary encoding, UTC) followed by the seed, scaled onto `[0, max)` milliseconds.
//! Owns only that arithmetic; never looks at a clock or a random source.

const NANOS: i64 = 1_000_000_000;
/// Seconds from Go's internal epoch (January 1, year 1) to the Unix epoch.
const GO_UNIX_TO_INTERNAL: i64 = 62_135_596_800;

/// The jitter (nanoseconds) for the slot at `nominal_secs` (unix seconds) given the longest
/// allowed jitter `max_nanos`: `fingerprint * max_millis >> 32` milliseconds.
pub(crate) fn jitter_nanos(seed: &str, nominal_secs: i64, max_nanos: i64) -> i64 {
    let max_ms = (max_nanos.max(0) / 1_000_000).min(u32::MAX as i64) as u64;
    let mut bin = go_time_binary_utc(nominal_secs);
    bin.extend_from_slice(seed.as_bytes());
    let fp = fingerprint32(&bin) as u64;
    ((fp * max_ms) >> 32) as i64 * 1_000_000
}

/// Go's `Time.MarshalBinary` of a whole-second UTC time: version 1, seconds since year 1,
/// nanoseconds, and offset -1 meaning UTC.
fn go_time_binary_utc(unix_secs: i64) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.push(1u8);
    b.extend_from_slice(&(unix_secs + GO_UNIX_TO_INTERNAL).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b
}

pub(crate) const fn nanos_of(seconds: i64, nanos: i32) -> i64 {
    seconds.saturating_mul(NANOS).saturating_add(nanos as i64)
}

// FarmHash's 32-bit fingerprint (farmhashmk::Hash32), the function Go's go-farm calls
// Fingerprint32. Its output is fixed forever by design, which is what makes it usable here.
const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

fn fetch(s: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]])
}

fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn mur(mut a: u32, mut h: u32) -> u32 {
    a = a.wrapping_mul(C1);
    a = a.rotate_right(17);
    a = a.wrapping_mul(C2);
    h ^= a;
    h = h.rotate_right(19);
    h.wrapping_mul(5).wrapping_add(0xe654_6b64)
}

fn len_0_to_4(s: &[u8]) -> u32 {
    let mut b: u32 = 0;
    let mut c: u32 = 9;
    for &byte in s {
        let v = byte as i8 as i32 as u32;
        b = b.wrapping_mul(C1).wrapping_add(v);
        c ^= b;
    }
    fmix(mur(b, mur(s.len() as u32, c)))
}

fn len_5_to_12(s: &[u8]) -> u32 {
    let len = s.len() as u32;
    let mut a = len;
    let mut b = len.wrapping_mul(5);
    let mut c: u32 = 9;
    let d = b;
    a = a.wrapping_add(fetch(s, 0));
    b = b.wrapping_add(fetch(s, s.len() - 4));
    c = c.wrapping_add(fetch(s, (s.len() >> 1) & 4));
    fmix(mur(c, mur(b, mur(a, d))))
}

fn len_13_to_24(s: &[u8]) -> u32 {
    let len = s.len();
    let mut a = fetch(s, (len >> 1) - 4);
    let b = fetch(s, 4);
    let c = fetch(s, len - 8);
    let d = fetch(s, len >> 1);
    let e = fetch(s, 0);
    let f = fetch(s, len - 4);
    let mut h = d.wrapping_mul(C1).wrapping_add(len as u32);
    a = a.rotate_right(12).wrapping_add(f);
    h = mur(c, h).wrapping_add(a);
    a = a.rotate_right(3).wrapping_add(c);
    h = mur(e, h).wrapping_add(a);
    a = a.wrapping_add(f).rotate_right(12).wrapping_add(d);
    h = mur(b, h).wrapping_add(a);
    fmix(h)
}

pub(crate) fn fingerprint32(s: &[u8]) -> u32 {
    let len = s.len();
    if len <= 4 {
        return len_0_to_4(s);
    }
    if len <= 12 {
        return len_5_to_12(s);
    }
    if len <= 24 {
        return len_13_to_24(s);
    }
    let mut h = len as u32;
    let mut g = C1.wrapping_mul(len as u32);
    let mut f = g;
    let mix = |x: u32| x.wrapping_mul(C1).rotate_right(17).wrapping_mul(C2);
    let a0 = mix(fetch(s, len - 4));
    let a1 = mix(fetch(s, len - 8));
    let a2 = mix(fetch(s, len - 16));
    let a3 = mix(fetch(s, len - 12));
    let a4 = mix(fetch(s, len - 20));
    h = h.bitxor_rot(a0);
    h = h.bitxor_rot(a2);
    g = g.bitxor_rot(a1);
    g = g.bitxor_rot(a3);
    f = f.wrapping_add(a4);
    f = f.rotate_right(19).wrapping_add(113);
    let mut iters = (len - 1) / 20;
    let mut p = 0;
    loop {
        let a = fetch(s, p);
        let b = fetch(s, p + 4);
        let c = fetch(s, p + 8);
        let d = fetch(s, p + 12);
        let e = fetch(s, p + 16);
        h = h.wrapping_add(a);
        g = g.wrapping_add(b);
        f = f.wrapping_add(c);
        h = mur(d, h).wrapping_add(e);
        g = mur(c, g).wrapping_add(a);
        f = mur(b.wrapping_add(e.wrapping_mul(C1)), f).wrapping_add(d);
        f = f.wrapping_add(g);
        g = g.wrapping_add(f);
        p += 20;
        iters -= 1;
        if iters == 0 {
            break;
        }
    }
    g = g.rotate_right(11).wrapping_mul(C1);
    g = g.rotate_right(17).wrapping_mul(C1);
    f = f.rotate_right(11).wrapping_mul(C1);
    f = f.rotate_right(17).wrapping_mul(C1);
    h = h.wrapping_add(g).rotate_right(19);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64);
    h = h.rotate_right(17).wrapping_mul(C1);
    h = h.wrapping_add(f).rotate_right(19);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64);
    h.rotate_right(17).wrapping_mul(C1)
}

trait BitxorRot {
    fn bitxor_rot(self, x: u32) -> u32;
}

impl BitxorRot for u32 {
    /// `h ^= x; h = rotr(h, 19); h * 5 + 0xe6546b64` — the long-input setup step.
    fn bitxor_rot(self, x: u32) -> u32 {
        (self ^ x)
            .rotate_right(19)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_encoding_is_gos() {
        // 2026-03-02T01:00:00Z
        let b = go_time_binary_utc(1_772_413_200);
        assert_eq!(b.len(), 15);
        assert_eq!(b[0], 1);
        assert_eq!(&b[13..], &[0xff, 0xff]);
        assert_eq!(
            i64::from_be_bytes(b[1..9].try_into().unwrap()),
            1_772_413_200 + 62_135_596_800
        );
    }

    #[test]
    fn jitter_is_below_its_cap() {
        for secs in 0..500 {
            let j = jitter_nanos("seed", 1_700_000_000 + secs * 60, 60 * NANOS);
            assert!((0..60 * NANOS).contains(&j), "{j}");
            assert_eq!(j % 1_000_000, 0);
        }
        assert_eq!(jitter_nanos("seed", 1_700_000_000, 0), 0);
        assert_eq!(jitter_nanos("seed", 1_700_000_000, -5), 0);
    }
}
