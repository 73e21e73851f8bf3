# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import csv
import io
import os

from odoo.tests import TransactionCase
from odoo.tools import file_open

from ..services.constants import LIVE_OPERATIONS

FIXTURES = 'crm_migration/tests/fixtures/clinic'
FIXTURE_FILES = ('appointments.csv', 'attachments.csv', 'billing.xlsx', 'consent_form.pdf',
                 'patients.csv', 'practitioners.csv', 'registration.png')
# The models a clinic migration writes to: rollback must leave their counts as found.
TARGET_MODELS = ('crm.lead', 'res.partner', 'sale.order', 'sale.order.line', 'mail.activity', 'ir.attachment')


def fixture_bytes(name):
    with file_open(os.path.join(FIXTURES, name), 'rb') as handle:
        return handle.read()


def make_csv(rows, delimiter=',', encoding='utf-8'):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator='\r\n')
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


class MigrationCaseMixin:
    """Helpers of every migration test case (``self.project`` is the project under test)."""

    def setUp(self):
        # Registered before TransactionCase's own cleanup, so it runs after
        # the test's savepoint is rolled back: x_ fields a test created are
        # gone from the database and must go from the registry too (Odoo
        # leaves that to tests that change the registry).
        fields_before = self._registry_fields()
        self.addCleanup(self._reset_registry, fields_before)
        super().setUp()

    def _registry_fields(self):
        return {name: frozenset(self.registry[name]._fields) for name in list(self.registry)}

    def _reset_registry(self, fields_before):
        if self._registry_fields() != fields_before:
            self.registry._setup_models__(self.cr)
            self.registry.registry_invalidated = False

    def stat(self, run, object_name):
        return run.stat_ids.filtered(lambda s: s.object_id.name == object_name)

    def assertStat(self, run, object_name, **expected):
        stat = self.stat(run, object_name)
        actual = {key: stat['%s_count' % key] for key in expected}
        self.assertEqual(actual, expected, "counters of %s" % object_name)

    def link(self, object_name, source_id, model=None):
        obj = self.project.object_ids.filtered(lambda o: o.name == object_name)
        return self.env['crm.migration.record'].search([
            ('object_id', '=', obj.id), ('source_id', '=', source_id),
            ('res_model', '=', model or obj.target_model)])

    def downloaded(self, action):
        """The file a download button returned (an ``/web/content/<id>`` URL), as bytes."""
        return self.env['ir.attachment'].browse(int(action['url'].split('/')[3].split('?')[0])).raw

    def target(self, object_name, source_id, model=None):
        link = self.link(object_name, source_id, model)
        self.assertEqual(len(link), 1, "one link for %s %s" % (object_name, source_id))
        self.assertIn(link.operation, LIVE_OPERATIONS,
                      "%s %s: %s" % (object_name, source_id, link.message))
        return self.env[link.res_model].with_context(active_test=False).browse(link.res_id)


class CrmMigrationCommon(MigrationCaseMixin, TransactionCase):
    """A clinic project with the messy sample export of ``tests/fixtures/clinic`` uploaded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.consult = cls.env['product.product'].create({
            'name': 'Consultation', 'default_code': 'CONSULT', 'list_price': 90.0})
        cls.project = cls.env['crm.migration.project'].create({
            'name': 'Sample clinic', 'source_tz': 'Australia/Sydney'})
        cls.wizard = cls._upload(cls.project, {name: fixture_bytes(name) for name in FIXTURE_FILES})
        cls.objects = {obj.name: obj for obj in cls.project.object_ids}

    @classmethod
    def _upload(cls, project, files):
        return project._upload_export(files)

    def run_full(self, project=None):
        project = project or self.project
        project._check_ready()
        run = project._create_run('full')
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        return run

    def approve(self, project=None, decide=None):
        """The consultant's review: confirm, audit, decide every issue, sample, approve."""
        project = project or self.project
        project.action_confirm_mapping()
        project.action_audit()
        if decide:
            decide(project)
        project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        action = project.action_sample()
        sample = self.env['crm.migration.run'].browse(action['res_id'])
        sample._execute()
        self.assertEqual(sample.state, 'done', sample.message)
        # Loading the sample can surface more (a row pointing to a held-back duplicate).
        project.issue_ids.filtered(lambda i: i.state == 'open').action_accept()
        project.action_approve()
        return sample

    def paused_run(self, batches=3, batch_size=2):
        """A full run of the sample project stopped by a pause after ``batches`` batches."""
        from ..models.crm_migration_run import RowReader  # noqa: PLC0415

        self.project.batch_size = batch_size
        run = self.project._create_run('full')
        run._start()
        reader = RowReader(self.project._get_source())
        for _batch in range(batches):
            run._process_batch(reader)
        run.action_pause()
        return run

    def run_rollback(self, project=None, of_run=None):
        project = project or self.project
        run = self.env['crm.migration.run'].create({
            'project_id': project.id, 'kind': 'rollback', 'rollback_of_id': of_run.id if of_run else False})
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        return run

    def target_counts(self):
        return {model: self.env[model].with_context(active_test=False).search_count([]) for model in TARGET_MODELS}
