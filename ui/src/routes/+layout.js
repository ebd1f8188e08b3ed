// Every page renders in the browser: the build is a static SPA served by Perdure's HTTP port.
import i18next from 'i18next';

import { browser } from '$app/environment';

import { i18nNamespaces } from '@temporalio/ui/i18n/index';
import resources from '@temporalio/ui/i18n/locales/index';

import { requestFullPayloads } from '$lib/full-payloads.js';

export const ssr = false;
export const prerender = false;

if (browser) requestFullPayloads();

export function load() {
  // The library's components translate their labels through i18next's global instance.
  if (!i18next.isInitialized) {
    i18next.init({ lng: 'en', fallbackLng: 'en', ns: i18nNamespaces, defaultNS: 'common', resources });
  }
}
