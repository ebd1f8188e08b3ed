// The UI decodes payloads in their full form ({metadata, data} in base64), which Temporal's
// ui-server answers. Temporal's HTTP API (and Perdure's, the same API) answers payloads in
// "shorthand" JSON unless asked with `?noPayloadShorthand`: ask for it on every same-origin
// /api/v1/ call, or the UI shows a string result as an object of characters.
const API = '/api/v1/';

export function requestFullPayloads() {
  const native = window.fetch.bind(window);
  window.fetch = (input, init) => {
    if (typeof input === 'string' || input instanceof URL) {
      const url = new URL(input, window.location.href);
      if (url.origin === window.location.origin && url.pathname.startsWith(API)) {
        url.searchParams.set('noPayloadShorthand', 'true');
        input = url.toString();
      }
    }
    return native(input, init);
  };
}
