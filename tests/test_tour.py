# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The newcomer's path in a real browser (headless Chromium), end to end."""
import io
import zipfile

from odoo.tests import HttpCase, tagged

from .common import FIXTURE_FILES, fixture_bytes


@tagged('post_install', '-at_install')
class TestMigrationTour(HttpCase):

    def setUp(self):
        super().setUp()
        # The "file on the user's disk": the demo-sized clinic export, zipped. The tour
        # downloads it and hands it to the upload wizard's file input.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            for name in FIXTURE_FILES:
                archive.writestr(name, fixture_bytes(name))
        self.env['ir.attachment'].create({'name': 'crm_migration_tour_export.zip', 'raw': buffer.getvalue()})
        self.env['product.product'].create({'name': 'Consultation', 'default_code': 'CONSULT', 'list_price': 90.0})
        # My Pipeline shows the leads the project assigns to its creator, the administrator.
        self.env['crm.migration.project'].search([]).active = False

    def test_newcomer_path(self):
        """Upload, mapping, audit with a bulk decision, sample and diff, approval, live full run,
        the leads in My Pipeline, rollback: every step through the screens a user sees."""
        leads_before = self.env['crm.lead'].with_context(active_test=False).search_count([])
        self.start_tour('/odoo/action-crm_migration.crm_migration_project_action', 'crm_migration_tour',
                        login='admin', timeout=300)
        project = self.env['crm.migration.project'].search([('name', '=', 'Tour clinic')])
        self.assertEqual(project.state, 'rolled_back')
        kinds = project.run_ids.filtered(lambda r: r.kind != 'audit').sorted('id').mapped(lambda r: (r.kind, r.state))
        self.assertEqual(kinds, [('sample', 'done'), ('full', 'done'), ('rollback', 'done')])
        full = project.run_ids.filtered(lambda r: r.kind == 'full')
        self.assertEqual(full.read_count, full.source_count)
        self.assertGreater(full.source_count, 0)
        rollback = project.run_ids.filtered(lambda r: r.kind == 'rollback')
        self.assertGreater(rollback.removed_count, 0)
        self.assertEqual(self.env['crm.lead'].with_context(active_test=False).search_count([]), leads_before,
                         "the rollback removed every migrated lead")
