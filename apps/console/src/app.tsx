import { type CastforgeClient } from '@castforge/client';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useMemo, useState } from 'preact/hooks';
import { CampaignPage } from './campaigns/campaign-page';
import { CampaignsPage } from './campaigns/campaigns-page';
import { NewCampaignPage } from './campaigns/campaign-new';
import { JobPage } from './jobs/job-page';
import { NewProfilePage, ProfilePage } from './profiles/profile-page';
import { ProfilesPage } from './profiles/profiles-page';
import { ClientContext, clientFor, forgetKey, storeKey, storedKey } from './session';
import { SignIn } from './sign-in';

// Pages keyed by their id, so going from one job (or campaign, or profile) to another starts it afresh.
const CampaignRoute = (p: { id?: string }) => <CampaignPage key={p.id} id={p.id} />;
const JobRoute = (p: { id?: string; query?: Record<string, string> }) => (
  <JobPage key={p.id} id={p.id} endpoint={p.query?.endpoint} />
);
const ProfileRoute = (p: { id?: string }) => <ProfilePage key={p.id} id={p.id} />;

function Nav(props: { onSignOut: () => void }) {
  const { path } = useLocation();
  const link = (href: string, label: string) => (
    <a href={href} aria-current={path.startsWith(href) ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <header class="top">
      <a class="brand" href="/console/campaigns">
        castforge
      </a>
      <nav aria-label="Main">
        {link('/console/campaigns', 'Campaigns')}
        {link('/console/profiles', 'Profiles')}
      </nav>
      <button type="button" class="link" onClick={props.onSignOut}>
        Sign out
      </button>
    </header>
  );
}

export function App(props: { makeClient?: (key: string) => CastforgeClient }) {
  const makeClient = props.makeClient ?? clientFor;
  const [key, setKey] = useState<string | null>(() => storedKey());
  const client = useMemo(() => (key ? makeClient(key) : null), [key, makeClient]);

  if (!client) {
    return (
      <SignIn
        makeClient={makeClient}
        onSignedIn={(k) => {
          storeKey(k);
          setKey(k);
        }}
      />
    );
  }
  return (
    <ClientContext.Provider value={client}>
      <LocationProvider scope="/console">
        <Nav
          onSignOut={() => {
            forgetKey();
            setKey(null);
          }}
        />
        <main id="main">
          <Router>
            <Route path="/console/profiles" component={ProfilesPage} />
            <Route path="/console/profiles/new" component={NewProfilePage} />
            <Route path="/console/profiles/:id" component={ProfileRoute} />
            <Route path="/console/campaigns/new" component={NewCampaignPage} />
            <Route path="/console/campaigns/:id" component={CampaignRoute} />
            <Route path="/console/jobs/:id" component={JobRoute} />
            <Route default component={CampaignsPage} />
          </Router>
        </main>
      </LocationProvider>
    </ClientContext.Provider>
  );
}
