# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The request ledger of an API project: one count per vendor window, shared by every action.

*Test connection*, *Read structure*, the audit and the runs each build their own
connector; without a shared count, what one spent is invisible to the next and a
noCRM account's daily quota (2,000 requests) runs out unannounced.
"""
import datetime

from odoo import api, fields, models

# Vendor quota per window: noCRM counts per day (UTC), Clio and Cliniko per minute.
QUOTAS = {'nocrm': (2000, 'day'), 'clio': (50, 'minute'), 'cliniko': (200, 'minute')}


class CrmMigrationProject(models.Model):
    _inherit = 'crm.migration.project'

    api_requests_window = fields.Char('Request window', readonly=True, copy=False,
                                      help="The vendor day (noCRM) or minute (Clio, Cliniko) the count is for.")
    api_requests_used = fields.Integer('Requests used', readonly=True, copy=False,
                                       help="API requests this project sent in the current window: test "
                                            "connection, structure reading, audit and runs together.")
    api_requests_left = fields.Integer('Requests left', compute='_compute_api_requests_left')
    api_requests_quota = fields.Integer('Request quota', compute='_compute_api_requests_left')

    @api.depends('source_type', 'api_requests_window', 'api_requests_used')
    def _compute_api_requests_left(self):
        for project in self:
            project.api_requests_quota = QUOTAS.get(project.source_type, (0, None))[0]
            project.api_requests_left = project._api_requests_left()

    def _api_window(self):
        period = QUOTAS.get(self.source_type, (0, 'day'))[1]
        # Odoo's clock (naive UTC), the one run schedules compare with: a run waiting for the
        # next window and the ledger agree on when that window starts.
        now = fields.Datetime.now()
        return now.strftime('%Y-%m-%d') if period == 'day' else now.strftime('%Y-%m-%d %H:%M')

    def _api_next_window(self):
        """When the next vendor window starts (naive UTC)."""
        period = QUOTAS.get(self.source_type, (0, 'day'))[1]
        now = fields.Datetime.now()
        if period == 'day':
            return datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time())
        return now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)

    def _api_window_spent(self):
        """The project's share of the current window is used up (its budget ran out): nothing more is
        sent before the next window, which this returns.  Marked whole, since the requests of a batch
        rolled back after the stop were sent all the same."""
        project = self.sudo()
        quota = QUOTAS.get(project.source_type, (0, None))[0]
        project.write({'api_requests_window': project._api_window(),
                       'api_requests_used': max(project.api_requests_used if project.api_requests_window
                                                == project._api_window() else 0, quota)})
        return project._api_next_window()

    def _api_requests_left(self):
        quota = QUOTAS.get(self.source_type, (0, None))[0]
        used = self.api_requests_used if self.api_requests_window == self._api_window() else 0
        return max(quota - used, 0)

    def _count_api_request(self):
        """One request sent by this project's connector (called by the HTTP client)."""
        project = self.sudo()
        window = project._api_window()
        used = project.api_requests_used + 1 if project.api_requests_window == window else 1
        project.write({'api_requests_window': window, 'api_requests_used': used})
