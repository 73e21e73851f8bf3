# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging
from unittest.mock import patch

from odoo import fields
from odoo.tests import new_test_user, tagged

from ..connectors.exceptions import ConnectorError
from .common import CrmMigrationCommon, fixture_bytes


class FlakySource:
    """Wraps a source; ``iter_rows`` of one object fails until ``healthy`` is set."""

    def __init__(self, source, broken, error):
        self.source, self.broken, self.error = source, broken, error
        self.healthy = False

    def __getattr__(self, name):
        return getattr(self.source, name)

    def iter_rows(self, name, **kwargs):
        if name == self.broken and not self.healthy:
            raise self.error
        return self.source.iter_rows(name, **kwargs)


class RateLimited(ConnectorError):
    retry_after = 120


@tagged('crm_migration', 'post_install', '-at_install')
class TestRuns(CrmMigrationCommon):

    def test_pause_then_resume_continues_at_the_checkpoint(self):
        run = self.paused_run()
        self.assertEqual(run._execute(), 'paused', "a paused run does not advance")
        self.assertEqual(run.current_object_id.name, 'patients')
        self.assertEqual(run.offset, 2)
        run.action_resume()
        self.assertEqual(run.state, 'queued')
        self.assertEqual(run._execute(), 'done')
        self.assertStat(run, 'practitioners', read=3, created=2, skipped=1)
        self.assertStat(run, 'patients', read=6, created=5, failed=1)
        self.assertStat(run, 'appointments', read=7, created=4, failed=3)
        self.assertEqual(run.progress, 100.0)
        run.write({'date_start': run.date_end - datetime.timedelta(seconds=10)})
        self.assertAlmostEqual(run.rate, (3 + 6 + 7 + 3 + 4 + 3) / 10, places=1)
        self.assertIn('A5', run.last_errors)

    def test_source_fault_stops_resumably_then_completes(self):
        source = FlakySource(self.project._get_source(), 'appointments', ConnectorError('page 2: HTTP 500'))
        run = self.project._create_run('full')
        run._start()
        with patch.object(type(self.project), '_get_source', lambda project: source):
            # Not assertRaises: Odoo's rolls its block back, and the batches
            # before the failing page must stay, as the cron commits them.
            try:
                run._execute()
            except ConnectorError as error:
                failure = error
            self.assertEqual(str(failure), 'page 2: HTTP 500')
            run._stop(failure)
            self.assertEqual((run.state, run.message), ('failed', 'page 2: HTTP 500'))
            self.assertStat(run, 'patients', read=6, created=5, failed=1)
            self.assertEqual(run.current_object_id.name, 'appointments')
            source.healthy = True
            run.action_resume()
            self.assertEqual(run._execute(), 'done')
        self.assertStat(run, 'appointments', read=7, created=4, failed=3)
        self.assertStat(run, 'patients', read=6, created=5, failed=1)

    def test_rate_limit_waits_and_resumes_by_itself(self):
        run = self.project._create_run('full')
        run._start()
        run._stop(RateLimited('HTTP 429'))
        self.assertEqual(run.state, 'queued')
        self.assertGreater(run.resume_at, fields.Datetime.now() + datetime.timedelta(seconds=100))
        cron = self.env.ref('crm_migration.ir_cron_crm_migration_run')
        trigger = self.env['ir.cron.trigger'].search([('cron_id', '=', cron.id)], order='call_at desc', limit=1)
        self.assertEqual(trigger.call_at, run.resume_at)
        # Until then the cron leaves it alone.
        waiting = self.env['crm.migration.run'].search([
            ('state', 'in', ('queued', 'running')), '|', ('resume_at', '=', False),
            ('resume_at', '<=', fields.Datetime.now())])
        self.assertNotIn(run, waiting)

    def test_delta_pickup_during_cutover(self):
        self.run_full()
        jose = self.target('patients', 'P001')
        self.project.action_start_cutover()
        self.assertEqual(self.project.state, 'cutover')
        self.assertTrue(self.project.watermark)
        # During cutover the clinic changes one patient and adds one, and exports again.
        content = fixture_bytes('patients.csv').replace(b'jose@example.test', b'jose.new@example.test') + \
            b'P007,Nils,Holm,02/02/1992,nils@example.test,,,,,,,,GP,,\r\n'
        self._upload(self.project, {'patients.csv': content})
        self.project.last_delta_at = fields.Datetime.now() - datetime.timedelta(hours=2)
        self.env['crm.migration.project']._cron_delta_pickup()
        delta = self.project.run_ids.filtered(lambda r: r.kind == 'delta')
        self.assertEqual(delta.state, 'queued')
        self.assertEqual(delta.since, self.project.watermark)
        delta._execute()
        self.assertStat(delta, 'patients', created=1, updated=1, unchanged=4, failed=1)
        self.assertStat(delta, 'appointments', created=0, updated=0, unchanged=4)
        self.assertEqual(jose.email_from, 'jose.new@example.test')
        link = self.link('patients', 'P001')
        self.assertEqual(link.previous_values['email_from'], 'jose@example.test')
        self.assertEqual(link.run_id, delta)
        self.assertIn('Delta pickup: 1 created, 1 updated', self.project.message_ids[0].body)
        self.assertEqual(self.project.watermark, delta.date_start)
        # Rolling back the delta restores José's e-mail and removes Nils only.
        counts = self.target_counts()
        rollback = self.run_rollback(of_run=delta)
        self.assertStat(rollback, 'patients', removed=1, restored=1, kept=0, failed=0)
        self.assertEqual(jose.email_from, 'jose@example.test')
        self.assertTrue(jose.exists())
        self.assertEqual(self.target_counts()['crm.lead'], counts['crm.lead'] - 1)
        self.assertEqual(self.link('patients', 'P001').operation, 'created', "still the full run's record")

    def test_delta_keeps_what_users_typed(self):
        """A delta writes the source's change, never over a user's phone or a note typed where the source has none."""
        self.run_full()
        zoe = self.target('patients', 'P002')
        self.project.action_start_cutover()
        reception = new_test_user(self.env, 'clinic_desk', groups='sales_team.group_sale_salesman_all_leads')
        zoe.with_user(reception).write({'phone': '0499 999 999', 'description': 'Allergic to latex'})
        content = fixture_bytes('patients.csv').replace(b'zoe@example.test', b'zoe.new@example.test')
        self._upload(self.project, {'patients.csv': content})
        delta = self.project._create_run('delta')
        delta._execute()
        self.assertEqual(delta.state, 'done', delta.message)
        self.assertStat(delta, 'patients', updated=1, kept=1, failed=1)  # the fixture's impossible date, as every run
        self.assertEqual(zoe.email_from, 'zoe.new@example.test', "the source's change lands")
        self.assertEqual(zoe.phone, '0499 999 999', "the user's phone stays")
        self.assertIn('Allergic to latex', str(zoe.description), "an empty source cell does not blank a typed note")
        link = self.link('patients', 'P002')
        self.assertIn('Kept as changed in Odoo', link.message)
        self.assertIn('Kept as changed in Odoo', zoe.message_ids[0].body)
        # Rolling the delta back gives the e-mail back and leaves the user's values alone.
        self.run_rollback(of_run=delta)
        self.assertEqual(zoe.email_from, 'zoe@example.test')
        self.assertEqual(zoe.phone, '0499 999 999')

    def test_cutover_window_closes(self):
        self.run_full()
        self.project.action_start_cutover()
        self.project.cutover_until = fields.Datetime.now() - datetime.timedelta(minutes=1)
        self.env['crm.migration.project']._cron_delta_pickup()
        self.assertEqual(self.project.state, 'done')
        self.assertFalse(self.project.run_ids.filtered(lambda r: r.kind == 'delta'))

    def test_rollback_keeps_user_edited_records_unless_forced(self):
        self.run_full()
        before = self.target_counts()
        zoe = self.target('patients', 'P002')
        # One test transaction has one clock: date the migration's write back
        # so that the user's edit comes after it, as it would in real life.
        self.link('patients', 'P002').synced_at -= datetime.timedelta(minutes=5)
        salesman = new_test_user(self.env, 'clinic_reception', groups='sales_team.group_sale_salesman_all_leads')
        zoe.with_user(salesman).write({'phone': '0400 000 000'})
        rollback = self.run_rollback()
        self.assertStat(rollback, 'patients', kept=1, failed=0)
        self.assertTrue(zoe.exists(), "a record a user changed is kept")
        self.assertIn('clinic_reception', self.link('patients', 'P002').message)
        self.assertEqual(self.target_counts()['crm.lead'], before['crm.lead'] - 8)
        forced = rollback.action_rollback_force()
        forced_run = self.env['crm.migration.run'].browse(forced['res_id'])
        self.assertTrue(forced_run.force)
        forced_run._execute()
        self.assertFalse(zoe.exists())
        self.assertStat(forced_run, 'patients', removed=1)

    def test_edit_made_while_the_rollback_runs_is_kept(self):
        """The up-front pass saw no edit; a user saves the lead before its batch comes: it stays."""
        self.run_full()
        before = self.target_counts()
        zoe = self.target('patients', 'P002')
        rollback = self.env['crm.migration.run'].create({'project_id': self.project.id, 'kind': 'rollback'})
        rollback._start()
        self.assertFalse(self.link('patients', 'P002').rollback_hold, "nothing was edited before the rollback")
        self.link('patients', 'P002').synced_at -= datetime.timedelta(minutes=5)  # one clock per test transaction
        salesman = new_test_user(self.env, 'clinic_nurse', groups='sales_team.group_sale_salesman_all_leads')
        zoe.with_user(salesman).write({'description': 'Allergic to latex'})
        rollback._execute()
        self.assertEqual(rollback.state, 'done', rollback.message)
        self.assertStat(rollback, 'patients', kept=1, failed=0)
        self.assertTrue(zoe.exists(), "the edit made during the rollback is kept")
        self.assertIn('clinic_nurse', self.link('patients', 'P002').message)
        self.assertEqual(self.target_counts()['crm.lead'], before['crm.lead'] - 8)

    def test_remove_custom_fields_only_when_empty(self):
        run = self.run_full()
        self.project.action_remove_custom_fields()
        self.assertIn('x_date_of_birth', self.env['crm.lead']._fields, "holds the patients' birth dates")
        self.assertIn('Kept because records still hold data', self.project.message_ids[0].body)
        self.run_rollback(of_run=run)
        self.project.action_remove_custom_fields()
        self.assertNotIn('x_date_of_birth', self.env['crm.lead']._fields)
        self.assertNotIn('x_specialty', self.env['res.partner']._fields)
        self.assertFalse(self.project.custom_view_ids.exists())
        self.assertFalse(self.env['ir.model.fields'].search([('name', '=', 'x_date_of_birth')]))

    def test_no_secret_or_row_data_in_logs(self):
        with self.assertLogs('odoo.addons.crm_migration', level=logging.DEBUG) as logs:
            logging.getLogger('odoo.addons.crm_migration').debug('start')
            self.run_full()
        text = '\n'.join(logs.output)
        for value in ('jose@example.test', 'García', '31/02/1980'):
            self.assertNotIn(value, text, "row values never reach the server log")


@tagged('crm_migration', 'post_install', '-at_install')
class TestSlowBatches(CrmMigrationCommon):
    """A batch the time box cannot cut is halved for the next ones; the counts stay exact."""

    def test_slow_batches_are_halved_and_every_row_lands(self):
        reference = self.run_full()
        expected = {(s.object_id.name, s.created_count, s.failed_count) for s in reference.stat_ids}
        reference._rollback_run(force=True)
        rollback = self.project.run_ids.filtered(lambda r: r.kind == 'rollback')[:1]
        rollback._execute()
        self.project.batch_size = 2
        # Every batch "outlasts" a step of a millionth of a second: the next batch is half as big.
        self.env['ir.config_parameter'].sudo().set_param('crm_migration.step_seconds', '0.000001')
        run = self.project._create_run('full')
        run._execute()
        self.assertEqual(run.state, 'done', run.message)
        self.assertEqual(run.batch_cap, 1, "batches of 2, then of 1")
        self.assertEqual({(s.object_id.name, s.created_count, s.failed_count) for s in run.stat_ids}, expected)
