/** A test user of the development IdP. `id` is the SAML NameID (an email address here). */
export interface DevUser {
  id: string;
  full_name: string;
  email: string;
  roles: string[];
}

export const DEFAULT_USERS: DevUser[] = [
  { id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'supervisor', 'agent'] },
  { id: 'grace@example.com', full_name: 'Grace Hopper', email: 'grace@example.com', roles: ['supervisor', 'agent'] },
  { id: 'alan@example.com', full_name: 'Alan Turing', email: 'alan@example.com', roles: ['agent'] },
];
