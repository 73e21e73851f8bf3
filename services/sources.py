# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Build a project's source connector, and show an API object to the binding
step as if it were a table (header, a sample of rows, a count)."""
from ..connectors.api_cliniko import ClinikoSource
from ..connectors.api_clio import ClioSource
from ..connectors.api_nocrm import NocrmSource
from ..connectors.exceptions import ConnectorError

API_SOURCES = ('cliniko', 'clio', 'nocrm')


def build_api_source(project):
    """The connector for an API project, with its credentials (read as superuser by the caller).

    Its requests are counted on the project's request ledger, whichever action sends them.
    """
    source = _build_api_source(project)
    source.http.on_request = project._count_api_request
    return source


def _build_api_source(project):
    options = {
        'base_url': project.api_base_url or None,
        'max_requests_per_minute': project.api_rate_limit or None,
    }
    if project.source_type == 'cliniko':
        agent = project.api_user_agent or 'Odoo CRM Migration (%s)' % (
            project.company_id.email or project.env.user.email or 'admin@example.com')
        return ClinikoSource(project.api_key, user_agent=agent, **options)
    if project.source_type == 'clio':
        return ClioSource(
            project.api_access_token, region=project.api_region or 'us',
            refresh_token=project.api_refresh_token or None, client_id=project.api_client_id or None,
            client_secret=project.api_client_secret or None, on_token_refresh=project._store_clio_tokens,
            **options)
    if project.source_type == 'nocrm':
        # What the project's own set-up and runs already spent today counts too.  Spread over
        # several days, a run spends today's remainder, stops before the vendor's 429 and
        # resumes at the next day (crm.migration.run._stop).
        left = project._api_requests_left()
        budget = min(project.api_daily_budget, left) if project.api_daily_budget else left
        return NocrmSource(project.api_key, subdomain=project.api_subdomain or None,
                           daily_budget_remaining=budget, spread=project.api_multiday, **options)
    raise ConnectorError('%s has no API connector' % project.source_type)


class ApiTable:
    """An API object seen through the interface ``binding.bind_table`` reads."""

    def __init__(self, source, name, label):
        self.source = source
        self.name = name
        self.label = label
        self._sample = None

    def headers(self):
        if self._sample is None:
            self.sample()
        # objects() lists custom fields once a page of rows revealed them.
        return dict((n, h) for n, _l, h in self.source.objects())[self.name]

    def sample(self, size=200):
        if self._sample is None:
            self._sample = self.source.sample_rows(self.name, size)
        return self._sample[:size]

    def count(self):
        return self.source.count(self.name) or len(self._sample or [])
