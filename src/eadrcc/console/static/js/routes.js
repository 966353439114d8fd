// Hash routes → view modules, and the navigation each role gets.
import { t } from './i18n.js';
import { can, isPoc, isStaff } from './session.js';
import * as alerts from './views/alerts.js';
import * as board from './views/board.js';
import * as capacities from './views/capacities.js';
import * as emergency from './views/emergency.js';
import * as myOffers from './views/my-offers.js';
import * as offerForm from './views/offer-form.js';
import * as partners from './views/partners.js';
import * as rfaForm from './views/rfa-form.js';
import * as sitrep from './views/sitrep.js';

const ROUTES = [
  [/^#\/e\/([^/]+)\/sitrep$/, sitrep, 'board'],
  [/^#\/e\/([^/]+)\/offer$/, offerForm, 'board'],
  [/^#\/e\/([^/]+)\/rfa$/, rfaForm, 'board'],
  [/^#\/e\/([^/]+)$/, emergency, 'board'],
  [/^#\/alerts$/, alerts, 'alerts'],
  [/^#\/partners$/, partners, 'partners'],
  [/^#\/capacities(?:\/([A-Z]{3}))?$/, capacities, 'capacities'],
  [/^#\/offers$/, myOffers, 'offers'],
  [/^(#\/?(board)?)?$/, board, 'board'],
];

export function route(hash) {
  for (const [pattern, module, id] of ROUTES) {
    const found = pattern.exec(hash);
    if (found) return { mount: module.mount, params: { id: found[1] && decodeURIComponent(found[1]) }, id };
  }
  return { mount: board.mount, params: {}, id: 'board' };
}

export function navItems() {
  const items = [['#/board', t('nav.board'), 'board']];
  if (can('alert.read')) items.push(['#/alerts', t('nav.alerts'), 'alerts']);
  if (isPoc()) items.push(['#/offers', t('nav.our_offers'), 'offers']);
  else if (isStaff()) items.push(['#/offers', t('nav.offers'), 'offers']);
  items.push(['#/partners', t('nav.partners'), 'partners']);
  items.push(['#/capacities', t('nav.capacities'), 'capacities']);
  return items;
}
