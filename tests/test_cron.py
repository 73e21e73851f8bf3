# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import tagged

from .common import CrmMigrationCommon


@tagged('crm_migration', 'post_install', '-at_install')
class TestCron(CrmMigrationCommon):

    def test_start_queues_and_cron_completes(self):
        """The whole consultant path; the full run goes through the real cron job."""
        self.project.sample_size = 6
        sample = self.approve()
        action = self.project.action_start_run()
        run = self.env['crm.migration.run'].browse(action['res_id'])
        self.assertEqual(run.state, 'queued')
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        self.assertTrue(self.env['ir.cron.trigger'].search_count([('cron_id', '=', cron.id)]))
        with self.enter_registry_test_mode():
            cron.method_direct_trigger()
        run.invalidate_recordset()
        self.assertEqual(run.state, 'done')
        self.assertEqual(self.project.state, 'done')
        patients = self.stat(run, 'patients')
        sample_patients = self.stat(sample, 'patients')
        self.assertGreater(patients.created_count, 0, "the full run creates what the sample did not")
        self.assertGreater(sample_patients.created_count, 0)
        self.assertEqual(patients.unchanged_count, sample_patients.created_count, "the sample's records are reused")
        self.assertEqual(patients.created_count + sample_patients.created_count, 5)
        self.assertEqual(patients.failed_count, 1)
        self.assertEqual(self.env['crm.lead'].search_count([('x_source_patient_id', '!=', False),
                                                            ('x_appointment_id', '=', False)]), 5)
