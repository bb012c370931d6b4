/** Which way a login goes: straight to a named IdP, through the discovery service, or to our own chooser. */

export interface KnownIdp {
  entityId: string;
}

export type LoginRoute =
  | { kind: 'idp'; entityId: string }
  | { kind: 'discovery'; url: string }
  | { kind: 'choose' }
  | { kind: 'unknown-idp'; entityId: string }
  | { kind: 'none' };

export interface LoginInputs {
  /** `?idp=` from our links, or `?entityID=` as a discovery service returns it. */
  requested: string | undefined;
  known: (entityId: string) => boolean;
  count: number;
  onlyIdp: string | undefined;
  discoveryUrl: string | undefined;
  spEntityId: string;
  /** Where the discovery service sends the browser back (our login URL, carrying the return path). */
  returnUrl: string;
}

export function loginRoute(i: LoginInputs): LoginRoute {
  if (i.requested) return i.known(i.requested) ? { kind: 'idp', entityId: i.requested } : { kind: 'unknown-idp', entityId: i.requested };
  if (i.count === 0) return { kind: 'none' };
  if (i.count === 1 && i.onlyIdp) return { kind: 'idp', entityId: i.onlyIdp };
  if (i.discoveryUrl) {
    // SAML Identity Provider Discovery Service Protocol: entityID, return, returnIDParam.
    const url = new URL(i.discoveryUrl);
    url.searchParams.set('entityID', i.spEntityId);
    url.searchParams.set('return', i.returnUrl);
    url.searchParams.set('returnIDParam', 'entityID');
    return { kind: 'discovery', url: url.toString() };
  }
  return { kind: 'choose' };
}
