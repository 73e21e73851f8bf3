# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import io
import json
import time

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, LockError, UserError

from odoo.addons.base.models.res_partner import _tz_get

from ..connectors import tabular
from ..connectors.exceptions import ConnectorError
from ..services import actions, binding, definitions, inventory, schema, sources, templates
from ..services.constants import LIVE_OPERATIONS

# Odoo's own import sends 2000 rows per request; 500 keeps one batch of
# crm.lead well under a minute on a small server, so a cron step that is
# killed loses little work.
DEFAULT_BATCH_SIZE = 500
SOURCE_TYPES = [
    ('clinic', 'Clinic software export (CSV/XLSX)'),
    ('cliniko', 'Cliniko (API)'),
    ('clio', 'Clio Manage (API)'),
    ('nocrm', 'noCRM.io (API)'),
    ('clientjoy', 'Clientjoy export (CSV/XLSX)'),
]
FILE_SOURCES = ('clinic', 'clientjoy')
# The steps a newcomer follows, shown as the project's status bar (one next step at a time).
STEPS = [
    ('source', 'Connect or upload'),
    ('mapping', 'Mapping'),
    ('audit', 'Audit'),
    ('sample', 'Sample'),
    ('approve', 'Approve'),
    ('run', 'Migrate'),
    ('cutover', 'Cutover'),
    ('done', 'Done'),
]
MANAGERS = 'crm_migration.group_crm_migration_manager'


class CrmMigrationProject(models.Model):
    _name = 'crm.migration.project'
    _description = 'CRM Migration Project'
    _inherit = ['mail.thread']
    _order = 'id desc'

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one('res.company', required=True, default=lambda self: self.env.company)
    source_type = fields.Selection(SOURCE_TYPES, required=True, default='clinic', tracking=True)
    state = fields.Selection([
        ('draft', 'Draft'),
        ('mapped', 'Mapping confirmed'),
        ('audited', 'Audited'),
        ('sampled', 'Sampled'),
        ('approved', 'Approved'),
        ('running', 'Running'),
        ('done', 'Done'),
        ('cutover', 'Cutover (delta pickup)'),
        ('rolled_back', 'Rolled back'),
    ], default='draft', required=True, tracking=True, copy=False)

    # Review: nothing loads until a person confirms the mapping; the full run
    # waits for a sample to be approved (unless the project opts out).
    mapping_confirmed_by = fields.Many2one('res.users', readonly=True, copy=False)
    mapping_confirmed_date = fields.Datetime(readonly=True, copy=False)
    # Where a migrated project (done, cutover) returns once its changed mapping is confirmed again.
    state_before_change = fields.Char(readonly=True, copy=False)
    mapping_change_ids = fields.One2many('crm.migration.mapping.change', 'project_id',
                                         string='Proposed mapping changes')
    open_change_count = fields.Integer(compute='_compute_open_change_count')
    audit_date = fields.Datetime(readonly=True, copy=False)
    sample_run_id = fields.Many2one('crm.migration.run', readonly=True, copy=False)
    approved_by = fields.Many2one('res.users', readonly=True, copy=False)
    approved_date = fields.Datetime(readonly=True, copy=False)
    require_approval = fields.Boolean(
        'Require an approved sample', default=True,
        help="The full run starts only after a sample run was reviewed and approved.")
    blocking_issue_count = fields.Integer(
        'Blocking issues', compute='_compute_counts',
        help="Open audit findings that stop the full run until someone resolves or accepts them.")
    step = fields.Selection(STEPS, compute='_compute_step',
                            help="Where the project is on its way from the source to Odoo.")
    next_step_hint = fields.Char(compute='_compute_step', string='Next step')

    # Cutover: while users still work in the old system, a cron picks up
    # what changed there since the last run.
    delta_interval = fields.Integer(
        'Delta pickup every (minutes)', default=60, required=True,
        help="During cutover, how often the source is asked for what changed.")
    cutover_until = fields.Datetime(help="The delta pickup window closes at this moment.")
    watermark = fields.Datetime(
        readonly=True, copy=False,
        help="Start of the last successful full or delta run: the next delta asks for rows changed after it.")
    last_delta_at = fields.Datetime(readonly=True, copy=False)

    # Connection (API sources).  Secrets: managers only, never copied,
    # exported, tracked in the chatter or written to a log.
    api_key = fields.Char('API key', groups=MANAGERS, copy=False, exportable=False)
    api_access_token = fields.Char('Access token', groups=MANAGERS, copy=False, exportable=False)
    api_refresh_token = fields.Char('Refresh token', groups=MANAGERS, copy=False, exportable=False)
    api_client_secret = fields.Char('Client secret', groups=MANAGERS, copy=False, exportable=False)
    api_client_id = fields.Char('Client id', groups=MANAGERS, copy=False)
    api_region = fields.Selection([('us', 'United States'), ('eu', 'Europe'), ('ca', 'Canada'), ('au', 'Australia')],
                                  'Clio region', default='us')
    api_subdomain = fields.Char('noCRM.io subdomain', help="The xxx of https://xxx.nocrm.io")
    api_user_agent = fields.Char(help="Cliniko requires the application's name and a contact e-mail, e.g. "
                                      "'Acme migration (it@acme.example)'. Defaults to the company e-mail.")
    api_base_url = fields.Char('API base URL', groups=MANAGERS,
                               help="Only to reach a proxy or a test server; empty uses the vendor's.")
    api_rate_limit = fields.Integer('Requests per minute', help="Client-side limit; 0 uses the vendor's "
                                                                "(Clio 50, Cliniko 200).")
    api_daily_budget = fields.Integer('Requests left today', help="noCRM.io: 2,000 requests a day per account. "
                                                                  "A run needing more is refused before it starts.")
    api_multiday = fields.Boolean(
        'Spread over several days',
        help="noCRM.io: start even when the run needs more "
        "requests than remain today; it waits for the daily "
        "reset at each 429 and resumes by itself.",
    )
    connection_message = fields.Text(readonly=True, copy=False)

    # Loading options
    batch_size = fields.Integer(default=DEFAULT_BATCH_SIZE, required=True)
    sample_size = fields.Integer(default=200, required=True)
    source_tz = fields.Selection(
        _tz_get, string='Source timezone', required=True,
        default=lambda self: self.env.user.tz or 'UTC',
        help="Wall-clock times in the source (appointment start times) are read in this timezone.")
    date_order = fields.Selection([
        ('auto', 'Detect from the files'),
        ('dmy', 'Day/Month/Year'),
        ('mdy', 'Month/Day/Year'),
    ], default='auto', required=True,
        help="How to read numeric dates such as 03/04/2024. 'Detect' looks for a day above 12 "
             "in the uploaded files and refuses ambiguous dates otherwise.")
    detected_date_order = fields.Selection([('dmy', 'Day first'), ('mdy', 'Month first')], readonly=True)
    decimal_separator = fields.Selection([
        ('auto', 'Detect per value'), ('.', 'Point (1,234.50)'), (',', 'Comma (1.234,50)'),
    ], default='auto', required=True)
    default_user_id = fields.Many2one(
        'res.users', string='Default salesperson', default=lambda self: self._default_owner_candidate(),
        domain=[('share', '=', False)],
        help="Owner of migrated leads and of scheduled activities when the source names no user (or one "
             "no Odoo user matches): what they see in My Pipeline. Never the system user.")
    fallback_product_id = fields.Many2one(
        'product.product', string='Product for unmatched invoice lines',
        help="Invoice lines whose service matches no product use this product, keeping quantity "
             "and price. Left empty, such lines become note lines carrying the description.")
    trust_journal_id = fields.Many2one(
        'account.journal', string='Journal for unmatched bank accounts', domain=[('type', 'in', ('bank', 'cash'))],
        help="Trust and bank entries whose bank account names no Odoo journal go to this journal. The audit "
             "asks for it when such entries exist.")

    # Content
    object_ids = fields.One2many('crm.migration.object', 'project_id', string='Objects', copy=True)
    run_ids = fields.One2many('crm.migration.run', 'project_id', string='Runs')
    record_ids = fields.One2many('crm.migration.record', 'project_id', string='Records')
    issue_ids = fields.One2many('crm.migration.issue', 'project_id', string='Issues')
    file_ids = fields.One2many(
        'ir.attachment', 'res_id', string='Uploaded files', groups=MANAGERS,
        domain=[('res_model', '=', 'crm.migration.project')])
    custom_field_ids = fields.Many2many('ir.model.fields', string='Custom fields created', copy=False)
    custom_view_ids = fields.Many2many('ir.ui.view', string='Generated views', copy=False)

    # Counters
    object_count = fields.Integer('Number of objects', compute='_compute_counts')
    run_count = fields.Integer('Number of runs', compute='_compute_counts',
                               help="Sample, full, delta and rollback runs of this project.")
    record_count = fields.Integer(
        'Linked records', compute='_compute_counts',
        help="Rows of the link table: one per source row and Odoo record it gave (a patient gives a lead "
             "and its contact), failed and skipped rows included.")
    failed_count = fields.Integer('Failed rows', compute='_compute_counts',
                                  help="Source rows the last run of their object could not load; each says why.")
    issue_count = fields.Integer('Open issues', compute='_compute_counts',
                                 help="Audit findings nobody has decided on yet.")
    last_run_id = fields.Many2one('crm.migration.run', compute='_compute_counts', string='Last run')
    audit_run_id = fields.Many2one('crm.migration.run', compute='_compute_audit_run_id', string='Audit in progress',
                                   help="The audit reading the source in the background; its issues are listed "
                                        "when it ends.")

    _check_batch_size = models.Constraint('CHECK(batch_size > 0)', 'The batch size must be positive.')
    _check_delta_interval = models.Constraint('CHECK(delta_interval > 0)', 'The delta interval must be positive.')
    _check_sample_size = models.Constraint('CHECK(sample_size > 0)', 'The sample size must be positive.')

    @api.depends('mapping_change_ids.state')
    def _compute_open_change_count(self):
        for project in self:
            project.open_change_count = len(project.mapping_change_ids.filtered(lambda c: c.state == 'open'))

    def _compute_counts(self):
        Record = self.env['crm.migration.record']
        records = dict(Record._read_group([('project_id', 'in', self.ids)], ['project_id'], ['__count']))
        failed = dict(Record._read_group([('project_id', 'in', self.ids), ('operation', '=', 'failed')],
                                         ['project_id'], ['__count']))
        issues = dict(self.env['crm.migration.issue']._read_group(
            [('project_id', 'in', self.ids), ('state', '=', 'open')], ['project_id'], ['__count']))
        blocking = dict(self.env['crm.migration.issue']._read_group(
            [('project_id', 'in', self.ids), ('state', '=', 'open'), ('blocking', '=', True)],
            ['project_id'], ['__count']))
        for project in self:
            project.object_count = len(project.object_ids)
            project.run_count = len(project.run_ids)
            project.record_count = records.get(project, 0)
            project.failed_count = failed.get(project, 0)
            project.issue_count = issues.get(project, 0)
            project.blocking_issue_count = blocking.get(project, 0)
            project.last_run_id = project.run_ids.sorted('id')[-1:]

    @api.depends('state', 'source_type', 'object_ids.attachment_id', 'object_ids.row_count',
                 'mapping_change_ids.state', 'cutover_until', 'last_delta_at')
    def _compute_step(self):
        for project in self:
            project.step, project.next_step_hint = project._next_step()

    def _next_step(self):
        """(step, sentence): where the project stands and what its primary button does next."""
        _ = self.env._
        state = self.state
        if state == 'draft':
            if self.open_change_count:
                return 'mapping', _("The last upload proposes mapping changes: accept or reject each one "
                                    "(tab Proposed mapping changes), then confirm the mapping.")
            bound = self.object_ids.filtered(lambda o: o.attachment_id or o.row_count)
            if not bound:
                if self._is_file_source():
                    return 'source', _("Upload your software's exports (CSV, XLSX or one ZIP): each table is "
                                       "recognised and its columns are mapped to Odoo fields for you.")
                return 'source', _("Enter the credentials (tab Connection), then read the source's structure: "
                                   "each object's fields are mapped to Odoo fields for you.")
            return 'mapping', _("Check the proposed mapping (tab Objects, button Mapping on each line), then "
                                "confirm it: nothing is read or loaded before.")
        if state == 'mapped':
            return 'audit', _("Read every row without writing anything and list what needs a decision: "
                              "duplicates, orphans, unknown users, invalid values.")
        if state == 'audited':
            if self.blocking_issue_count:
                return 'audit', _("%s blocking issues wait for a decision: open them, resolve or accept them "
                                  "(several at once from the list), then load the sample.", self.blocking_issue_count)
            return 'sample', _("Load %s records spread over the objects and values, then compare what landed "
                               "with the source field by field.", self.sample_size)
        if state == 'sampled' and self.blocking_issue_count:
            return 'approve', _("Loading the sample raised %s blocking issues: decide them (several at once from "
                                "the list), then approve.", self.blocking_issue_count)
        if state == 'sampled':
            return 'approve', _("Review the sample's differences (its run, button Differences), then approve: "
                                "the full migration can start.")
        if state == 'approved':
            return 'run', _("Load every enabled object in dependency order, in the background; progress "
                            "shows live on the run.")
        if state == 'running':
            return 'run', _("The migration runs in the background: open the run to follow its progress.")
        if state == 'rolled_back':
            return 'run', _("Everything this project loaded was rolled back: start the migration again "
                            "when the source or the mapping is ready.")
        if state == 'cutover':
            return 'cutover', _("Until the window closes, what changes in the source is picked up every %s "
                                "minutes. Close the cutover once users work in Odoo only.", self.delta_interval)
        if self.last_delta_at:
            return 'done', _("The migration is done. Roll back everything undoes it if it has to be.")
        return 'cutover', _("The migration is done. If users still work in the old system, open a cutover "
                            "window: its changes are picked up until it closes.")

    @api.depends('run_ids.kind', 'run_ids.state')
    def _compute_audit_run_id(self):
        for project in self:
            project.audit_run_id = project.run_ids.filtered(
                lambda r: r.kind == 'audit' and r.state in ('queued', 'running', 'paused'))[:1]

    @api.model
    def _default_owner_candidate(self):
        # A project set up by a script or the cron runs as OdooBot, whom no
        # salesperson ever filters on: the administrator stands in then.
        user = self.env.user
        if user._is_superuser() or user.share:
            user = self.env.ref('base.user_admin', raise_if_not_found=False) or user.browse()
        return user if user.active else user.browse()

    def _default_owner(self):
        """The user who owns what the source leaves unassigned, or an empty recordset."""
        self.ensure_one()
        user = self.default_user_id
        return user if user and user.active and not user._is_superuser() else user.browse()

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        projects = super().create(vals_list)
        for project in projects.filtered(lambda p: not p.object_ids):
            project._apply_template()
        return projects

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------
    def action_open_upload(self):
        self.ensure_one()
        return actions.wizard_action(self.env._('Upload source files'), 'crm.migration.upload',
                                     {'default_project_id': self.id})

    def action_reset_template(self):
        for project in self:
            if project.record_ids.filtered(lambda r: r.operation in LIVE_OPERATIONS):
                raise UserError(self.env._("Roll back the project's records before resetting its mapping."))
            project.object_ids.field_ids.unlink()
            project.object_ids.unlink()
            project._apply_template()

    def action_prepare_fields(self):
        """Create every missing x_ field of the mapping, in one pass, and the 'Migrated data' pages."""
        self.check_access('write')  # managers only: users read, they never run
        for project in self:
            schema.ensure_custom_fields(project)
        return True

    def action_download_manifest(self):
        self.ensure_one()
        content = json.dumps(schema.custom_field_manifest(self), indent=2, ensure_ascii=False)
        return self._download_json('custom_fields_manifest.json', content)

    def action_confirm_mapping(self):
        """A person has reviewed the proposed mapping: it may now be audited and loaded."""
        self.check_access('write')  # managers only: users read, they never run
        for project in self:
            project._check_ready()
            pending = self.env['crm.migration.mapping.change'].search_count([
                ('project_id', '=', project.id), ('state', '=', 'open')])
            if pending:
                raise UserError(self.env._(
                    "A new upload proposes %s mapping changes: accept or reject each (tab Proposed mapping "
                    "changes) first.", pending))
            # A migrated project goes back to where it was: its records stay, the next run or delta
            # brings them in line with the confirmed mapping.
            state = project.state_before_change if project.state == 'draft' and project.state_before_change \
                else 'mapped'
            project.write({'state': state, 'state_before_change': False, 'mapping_confirmed_by': self.env.uid,
                           'mapping_confirmed_date': fields.Datetime.now()})
        return True

    def action_audit(self):
        """Read every row, write nothing, and list what needs a decision before loading.

        The audit is a run of its own, in time-boxed steps: this request works the first
        box (a small export is audited at once and its issues open), the cron the rest
        while the project shows the audit in progress.
        """
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        run = self._start_audit(step_now=True)
        return self.action_open_issues() if run.state == 'done' else run._open_form()

    def _start_audit(self, step_now=False):
        """Queue an audit run (one at a time per project); ``step_now`` works its first box here."""
        self._check_confirmed()
        self._lock_project()
        if self.audit_run_id:
            raise UserError(self.env._("The audit of %s is already in progress; its findings are listed when it "
                                       "ends.", self.display_name))
        run = self._create_run('audit')
        if step_now:
            run._execute(deadline=time.monotonic() + run._step_seconds())
        if run.state in ('queued', 'running'):
            self.env.ref('crm_migration.ir_cron_crm_migration_run')._trigger()
        return run

    def action_sample(self):
        """Load a sample spread over the objects and values, then diff it field by field."""
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        self._check_confirmed()
        self._check_ready()
        if not self.audit_date:
            raise UserError(self.env._("Run the audit before the sample."))
        # The rows are chosen in the run's first background step: choosing reads every file.
        run = self._create_run('sample')
        run._schedule()
        return run._open_form()

    def action_approve(self):
        """The sample's diff was reviewed: unlock the full run."""
        self.check_access('write')  # managers only: users read, they never run
        for project in self:
            if project.state != 'sampled' or not project.sample_run_id:
                raise UserError(self.env._("Run and review a sample before approving."))
            project._check_no_blocking_issues()
            project.write({'state': 'approved', 'approved_by': self.env.uid, 'approved_date': fields.Datetime.now()})
        return True

    def action_discard_sample(self):
        """Roll the sample back: the mapping can be changed and sampled again."""
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        self._lock_project()
        if not self.sample_run_id:
            raise UserError(self.env._("There is no sample to discard."))
        if self.run_ids.filtered(lambda r: r.kind in ('full', 'delta') and r.id > self.sample_run_id.id
                                 and r.state != 'cancelled'):
            raise UserError(self.env._("A migration run already uses the sample's records: roll that run back "
                                       "instead of discarding the sample."))
        return self.sample_run_id._rollback_run(force=True)

    def action_start_run(self):
        """Queue a full run: the cron loads every enabled object in dependency order."""
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        self._check_gates()
        self._check_ready()
        self._check_quota()
        run = self._create_run('full')
        run._schedule()
        return run._open_form()

    def action_test_connection(self):
        """What the credentials can see: objects and counts, and what to know first (plan, permissions)."""
        self.ensure_one()
        self.check_access('write')
        try:
            result = self._get_source().test_connection()
        except ConnectorError as error:
            result = {'ok': False, 'objects': {}, 'messages': [str(error)]}
        lines = [self.env._("Connected.") if result['ok'] else self.env._("Not connected.")]
        lines += ['%s: %s' % (name, self.env._('unknown') if count is None else count)
                  for name, count in result['objects'].items()]
        lines += result['messages']
        self.connection_message = '\n'.join(lines)
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'title': self.env._("Test connection"), 'message': '\n'.join(lines),
            'type': 'success' if result['ok'] else 'danger', 'sticky': not result['ok'],
            'next': {'type': 'ir.actions.act_window_close'}}}

    def action_read_structure(self):
        """API sources: read each object's fields and a page of rows, and propose the mapping."""
        self.ensure_one()
        self.check_access('write')
        source = self._get_source()
        offered = {name: label for name, label, _headers in source.objects()}
        schema_objects = definitions.definition_objects(self)
        for obj in self.object_ids - schema_objects:
            if obj._source_name() not in offered:
                obj.write({'enabled': False})
                continue
            binding.bind_table(obj, None, sources.ApiTable(source, obj._source_name(), offered[obj._source_name()]))
        # After the holders are bound: a definition lands on the object whose rows carry its values.
        self._apply_field_definitions({obj: source.iter_rows(obj._source_name())
                                       for obj in schema_objects if obj._source_name() in offered}, api=True)
        return True

    def _apply_field_definitions(self, rows_by_object, api):
        """Source custom-field definitions -> typed mapping lines; the outcome goes to the chatter."""
        messages = []
        for obj, rows in rows_by_object.items():
            found, skipped = definitions.read_definitions(obj, rows, api=api)
            messages += definitions.apply_definitions(self, found)
            messages += [self.env._('Skipped definition %s', reason) for reason in skipped]
        if messages:
            self.message_post(body=Markup('<p>%s</p><ul>%s</ul>') % (
                self.env._('Custom field definitions read from the source:'),
                Markup().join(Markup('<li>%s</li>') % message for message in messages)))
        return messages

    def _store_clio_tokens(self, tokens):
        """Clio rotated the OAuth tokens during a run: keep the new ones (never logged)."""
        values = {'api_access_token': tokens.get('access_token')}
        if tokens.get('refresh_token'):
            values['api_refresh_token'] = tokens['refresh_token']
        self.sudo().write(values)

    def action_export_mapping(self):
        """The mapping as JSON, importable into another project (same format as the templates)."""
        self.ensure_one()
        content = json.dumps(templates.export_mapping(self), indent=1, ensure_ascii=False)
        return self._download_json('mapping_%s.json' % (self.source_type,), content)

    def action_export_inventory(self):
        """What does not migrate, for the administrator to rebuild in Odoo."""
        self.ensure_one()
        content = json.dumps(inventory.build_inventory(self), indent=1, ensure_ascii=False, default=str)
        return self._download_json('inventory_not_migrated.json', content)

    def action_open_import_mapping(self):
        self.ensure_one()
        return actions.wizard_action(self.env._('Import a mapping'), 'crm.migration.mapping.import',
                                     {'default_project_id': self.id})

    def action_rollback(self):
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        return self._start_rollback(force=False)

    def action_rollback_force(self):
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        return self._start_rollback(force=True)

    def action_start_cutover(self):
        """Open the delta pickup window after a full run."""
        self.check_access('write')  # managers only: users read, they never run
        for project in self:
            full = project.run_ids.filtered(lambda r: r.kind == 'full' and r.state == 'done')
            if not full:
                raise UserError(self.env._("Run the full migration before opening the cutover window."))
            project.write({
                'state': 'cutover',
                'watermark': project.watermark or max(full.mapped('date_start')),
                'cutover_until': project.cutover_until or fields.Datetime.now() + datetime.timedelta(hours=48),
                'last_delta_at': fields.Datetime.now(),
            })
        return True

    def action_close_cutover(self):
        self.filtered(lambda p: p.state == 'cutover').write({'state': 'done'})
        return True

    def action_run_delta(self):
        """Pick up what changed in the source now, without waiting for the cron."""
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        self._check_confirmed()
        self._check_ready()
        run = self._create_run('delta')
        run._schedule()
        return run._open_form()

    def action_remove_custom_fields(self):
        """Delete the x_ fields this project created, except those holding data."""
        self.check_access('write')  # managers only: users read, they never run
        self.ensure_one()
        if self.run_ids.filtered(lambda r: r.state in ('queued', 'running')):
            raise UserError(self.env._("Wait for the current run to finish before removing fields."))
        removed, kept = schema.remove_custom_fields(self)
        self.message_post(body=self.env._(
            "Custom fields removed: %(removed)s. Kept because records still hold data in them: %(kept)s.",
            removed=', '.join(removed) or '-', kept=', '.join(kept) or '-'))
        return True

    def action_open_records(self):
        return self._open_related('crm.migration.record', self.env._('Migrated records'), actions.empty_help(
            self.env._("Nothing migrated yet"),
            self.env._("Each line links one source row to the Odoo record it gave; lines appear with the "
                       "project's first sample run.")))

    def action_open_issues(self):
        action = self._open_related('crm.migration.issue', self.env._('Issues of %s', self.display_name),
                                    actions.empty_help(self.env._("No open issue"), self.env._(
                                        "The audit found nothing that needs a decision, or every finding is "
                                        "decided (filter Open removed, they show again).")))
        action['context']['search_default_filter_open'] = 1  # what waits for a decision; decided ones a click away
        return action

    def action_open_last_run(self):
        self.ensure_one()
        run = self.run_ids.sorted('id')[-1:]
        return run._open_form() if run else self.action_open_runs()

    def action_open_runs(self):
        return self._open_related('crm.migration.run', self.env._('Runs'), actions.empty_help(
            self.env._("No run yet"),
            self.env._("The project's next step (button at the top of its form) starts its first run.")))

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------
    def _apply_template(self):
        self.ensure_one()
        templates.apply_template(self, self._template_data(self.source_type))

    @api.model
    def _template_data(self, source_type):
        return templates.load_template(source_type)

    def _is_file_source(self):
        return self.source_type in FILE_SOURCES

    def _check_quota(self):
        """noCRM.io: refuse a run that needs more requests than the account has left today."""
        source = self._get_source() if not self._is_file_source() else None
        if source is None or not hasattr(source, 'check_budget'):
            return
        counts = {obj.name: obj.row_count for obj in self.object_ids.filtered('enabled')}
        try:
            source.check_budget(counts, [o.name for o in self.object_ids.filtered('enabled')])
        except ConnectorError as error:
            raise UserError(str(error)) from error

    def _check_confirmed(self):
        if self.state == 'draft':
            raise UserError(self.env._("Review the proposed mapping and confirm it first."))

    def _check_no_blocking_issues(self):
        if self.audit_run_id:
            raise UserError(self.env._("The audit is still reading the source: its findings are listed when it ends."))
        if self.blocking_issue_count:
            raise UserError(self.env._(
                "%s blocking issues are open: resolve or accept them (menu Issues) first.", self.blocking_issue_count))

    def _check_gates(self):
        self._check_confirmed()
        if not self.audit_date:
            raise UserError(self.env._("Run the audit before the migration."))
        self._check_no_blocking_issues()
        if self.require_approval and self.state not in ('approved', 'done', 'cutover', 'rolled_back'):
            raise UserError(self.env._("Run a sample, review its diff and approve it before the full run."))

    def _mapping_changed(self):
        """A mapping edited after confirmation must be confirmed (and sampled) again, in every state:
        a cutover project stops its delta pickup until then. A running project is left to its run
        (uploads are refused meanwhile)."""
        for project in self.filtered(lambda p: p.state not in ('draft', 'running')):
            migrated = project.state in ('done', 'cutover')
            project.write({'state': 'draft', 'approved_by': False, 'approved_date': False,
                           'state_before_change': project.state if migrated else False})
            project.message_post(body=self.env._("The mapping changed: confirm it again before loading."))

    def _lock_project(self):
        """Hold the project's row until this transaction ends: one run-changing action at a time.

        SKIP LOCKED (Odoo's lock_for_update) instead of waiting: a second click while the
        first one is still in its transaction is refused at once, and after that commit it
        sees the first one's queued run.
        """
        try:
            self.lock_for_update()
        except LockError:
            raise UserError(self.env._(
                "Another action on project %s is in progress (a start, rollback or delta); "
                "try again in a moment.", self.display_name)) from None

    def _check_ready(self):
        self._lock_project()
        enabled = self.object_ids.filtered('enabled')
        if not enabled:
            raise UserError(self.env._("Enable at least one object to migrate."))
        missing = enabled.filtered(lambda o: not o._table_object().attachment_id) if self._is_file_source() \
            else enabled.browse()
        if not self._is_file_source() and not (self.sudo().api_key or self.sudo().api_access_token
                                               or self.sudo().api_refresh_token):
            raise UserError(self.env._("Enter the source's credentials (tab Connection) first."))
        if missing:
            raise UserError(self.env._(
                "No file was uploaded for: %s. Upload the export or disable these objects.",
                ', '.join(missing.mapped('label'))))
        if self.run_ids.filtered(lambda r: r.state in ('queued', 'running')):
            raise UserError(self.env._("A run of this project is already queued or running."))

    def _create_run(self, kind, **values):
        values = dict(values, project_id=self.id, kind=kind)
        if kind == 'delta':
            values.setdefault('since', self.watermark)
        return self.env['crm.migration.run'].create(values)

    def _prepare_rollback(self):
        """No run may go on after a rollback: paused or stopped ones are cancelled."""
        self._lock_project()
        if self.run_ids.filtered(lambda r: r.state in ('queued', 'running')):
            raise UserError(self.env._("Wait for the current run to finish (or cancel it) before rolling back."))
        self.run_ids.filtered(lambda r: r.state in ('paused', 'failed')).action_cancel()

    def _start_rollback(self, force):
        self._prepare_rollback()
        run = self._create_run('rollback', force=force)
        run._schedule()
        return run._open_form()

    def _on_run_started(self, run):
        if run.kind == 'sample':
            return
        if run.kind == 'full' or (run.kind == 'rollback' and not run.rollback_of_id):
            self.state = 'running'

    def _on_run_done(self, run):
        if run.kind == 'audit':
            if self.state == 'mapped':
                self.state = 'audited'
            return
        if run.kind == 'sample':
            self.write({'state': 'sampled', 'sample_run_id': run.id})
            return
        if run.kind == 'rollback':
            if not run.rollback_of_id:
                self.state = 'rolled_back'
            elif run.rollback_of_id == self.sample_run_id:
                self.write({'state': 'audited', 'sample_run_id': False})
            return
        self.watermark = run.date_start
        if run.kind == 'delta':
            self.last_delta_at = run.date_end
            self.message_post(body=self.env._(
                "Delta pickup: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
                "%(failed)s failed.", created=run.created_count, updated=run.updated_count,
                unchanged=run.unchanged_count, failed=run.failed_count))
        elif self.state != 'cutover':
            self.state = 'done'

    @api.model
    def _cron_delta_pickup(self):
        """During cutover, queue a delta run for every project whose interval has elapsed."""
        now = fields.Datetime.now()
        for project in self.search([('state', '=', 'cutover')]):
            if project.cutover_until and project.cutover_until <= now:
                project.state = 'done'
                project.message_post(body=self.env._("Cutover window closed; the migration is done."))
                continue
            busy = project.run_ids.filtered(lambda r: r.state in ('queued', 'running', 'paused'))
            due = not project.last_delta_at or \
                project.last_delta_at + datetime.timedelta(minutes=project.delta_interval) <= now
            # A manager's action holding the project wins; the next pickup retries.
            if due and not busy and project.try_lock_for_update():
                project.last_delta_at = now
                project._create_run('delta')._schedule()

    def _day_first(self):
        order = self.date_order if self.date_order != 'auto' else self.detected_date_order
        return {'dmy': True, 'mdy': False}.get(order)

    def _decimal_comma(self):
        return {'.': False, ',': True}.get(self.decimal_separator)

    def _get_source(self):
        """The connector for this project: the API, or the uploaded tables and documents."""
        self.ensure_one()
        if not self._is_file_source():
            return sources.build_api_source(self.sudo())
        tables, documents = {}, {}
        for attachment in self.file_ids:
            if attachment.description == 'crm_migration:export':
                continue
            documents.setdefault(attachment.name, self._attachment_opener(attachment))
        for obj in self.object_ids.filtered('attachment_id'):
            if obj.source_object:
                continue  # reads the table of the object it names
            opener = self._attachment_opener(obj.attachment_id)
            name = obj.attachment_id.name
            if name.lower().endswith(tabular.XLSX_EXTENSIONS):
                tables[obj.name] = tabular.XlsxTable(obj.name, '%s [%s]' % (name, obj.sheet_name),
                                                     opener, obj.sheet_name)
            else:
                tables[obj.name] = tabular.CsvTable(obj.name, name, opener)
        return tabular.TabularSource(tables, documents)

    def _attachment_opener(self, attachment):
        # Read with sudo (the filestore path), hence only the project's own uploads:
        # any other attachment id would be a way around its access rules.
        if attachment.res_model != self._name or attachment.res_id not in self.ids:
            raise AccessError(self.env._("%s is not a file uploaded to this migration project.", attachment.name))
        attachment = attachment.sudo()
        if attachment.store_fname:
            path = attachment._full_path(attachment.store_fname)
            # Read the filestore file itself: a 100 MB export is streamed
            # instead of being decoded into memory through `raw`.
            return lambda: open(path, 'rb')
        return lambda: io.BytesIO(attachment.raw or b'')

    def _download_json(self, filename, content):
        attachment = self.env['ir.attachment'].create({
            'name': filename,
            'raw': content.encode(),
            'mimetype': 'application/json',
            'res_model': self._name,
            'res_id': self.id,
            'description': 'crm_migration:export',
        })
        return {
            'type': 'ir.actions.act_url',
            'url': '/web/content/%d?download=true' % attachment.id,
            'target': 'self',
        }

    def _open_related(self, model, name, help_html=None):
        self.ensure_one()
        return actions.list_action(name, model, [('project_id', '=', self.id)], {'default_project_id': self.id},
                                   help_html)

    def _upload_export(self, files):
        """Upload ``{file name: bytes}`` and bind the tables, as the upload wizard does; return the wizard."""
        self.ensure_one()
        attachments = self.env['ir.attachment'].create(
            [{'name': name, 'raw': content} for name, content in files.items()]
        )
        wizard = self.env['crm.migration.upload'].create(
            {'project_id': self.id, 'attachment_ids': [(6, 0, attachments.ids)]}
        )
        wizard.action_detect()
        wizard.action_confirm()
        return wizard

    def _upload_file(self, filename, content):
        """Store one uploaded file on the project (``content`` is bytes)."""
        self.ensure_one()
        existing = self.file_ids.filtered(lambda a: a.name == filename)
        if existing:
            existing.write({'raw': content})
            return existing[0]
        return self.env['ir.attachment'].create({
            'name': filename,
            'raw': content,  # not datas: a base64 copy of a large export is memory for nothing
            'res_model': self._name,
            'res_id': self.id,
            'description': 'crm_migration:upload',
        })

    # ------------------------------------------------------------------
    # DEMO
    # ------------------------------------------------------------------
    @api.model
    def action_load_demo(self):
        """The empty list's link: the demo clinic's export uploaded, ready for its first step."""
        self.check_access('create')
        return self._create_demo_project(run=False)._open_form()

    def _open_form(self):
        self.ensure_one()
        return actions.form_action(self._name, self.id)

    @api.model
    def _create_demo_project(self, run=True):
        """Create the demo clinic project from ``demo/clinic`` and migrate it."""
        import os  # noqa: PLC0415

        from odoo.tools import file_open, file_path  # noqa: PLC0415 (demo only)

        project = self.create({'name': self.env._('Demo clinic (sample export)'), 'source_tz': 'Australia/Sydney',
                               'sample_size': 40})
        folder = file_path('crm_migration/demo/clinic')
        files = {}
        for root, _dirs, names in os.walk(folder):
            for name in sorted(names):
                with file_open(os.path.join(root, name), 'rb') as handle:
                    files[name] = handle.read()
        project._upload_export(files)
        if not run:
            return project
        # The consultant's path, end to end: confirm, audit, decide, sample, approve, migrate.
        project.action_confirm_mapping()
        project.action_audit()
        project.issue_ids.filtered(lambda i: i.kind == 'duplicate' and i.state == 'open').action_skip()
        project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        project.action_sample()
        project.run_ids.filtered(lambda r: r.kind == 'sample')._execute()
        project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        project.action_approve()
        project.action_start_run()
        project.run_ids.filtered(lambda r: r.kind == 'full')._execute()
        return project
