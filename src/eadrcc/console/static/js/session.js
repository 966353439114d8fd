// Who is signed in: the token (sessionStorage only, never in a URL) and the principal.
const KEY = 'eadrcc.token';
let principal = null;

export const token = () => sessionStorage.getItem(KEY);
export const me = () => principal;

export function signIn(value, who) {
  sessionStorage.setItem(KEY, value);
  principal = who;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  principal = null;
}

export const isStaff = () => ['admin', 'duty_officer', 'observer'].includes(principal?.role);
export const isOfficer = () => ['admin', 'duty_officer'].includes(principal?.role);
export const isPoc = () => principal?.role === 'poc';

// A mirror of the server's policy table (policy.py), only to decide what to offer:
// the server decides for real and answers 403 otherwise.
const RULES = {
  'emergency.update': { always: ['admin', 'duty_officer'] },
  'alert.read': { always: ['admin', 'duty_officer', 'observer'] },
  'alert.triage': { always: ['admin', 'duty_officer'] },
  'request.create': { always: ['admin', 'duty_officer'], own: true },
  'offer.create': { always: ['admin', 'duty_officer'], own: true },
  'offer.withdraw': { always: ['admin', 'duty_officer'], own: true },
  'match.decide': { always: ['admin', 'duty_officer'], own: true },
};

/** May the principal do `action` (for one of `countries`)? */
export function can(action, countries = []) {
  const rule = RULES[action];
  if (!rule || !principal) return false;
  if (rule.always.includes(principal.role)) return true;
  return Boolean(rule.own && isPoc() && countries.includes(principal.country));
}
