# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Values resolved once per batch give the records Odoo's own defaults give, for fewer queries."""
from odoo.tests import TransactionCase, new_test_user, tagged

from ..services import fast_defaults
from ..services.loader import IMPORT_CONTEXT
from .common import MigrationCaseMixin, make_csv

COMPARED = ('type', 'user_id', 'team_id', 'stage_id', 'company_id', 'probability', 'automated_probability',
            'won_status', 'partner_id', 'email_from', 'phone', 'lang_id', 'active')
PATIENT_HEADER = ['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email', 'Phone', 'Mobile Phone',
                  'Street', 'City', 'State', 'Postcode', 'Country', 'Referral Source', 'Notes']


def patient_rows(count, start=1):
    return [['P%05d' % i, 'Ana', 'Patient %d' % i, '23/04/1980', 'patient%d@mail.test' % i, '02 9000 %04d' % i,
             '', '%d George St' % i, 'Sydney', 'NSW', '2000', 'Australia', 'GP', 'Prefers mornings.']
            for i in range(start, start + count)]


@tagged('crm_migration', 'post_install', '-at_install')
class TestLeadDefaults(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Lead = cls.env['crm.lead'].with_context(**IMPORT_CONTEXT)
        cls.member = new_test_user(cls.env, 'fast_member', groups='sales_team.group_sale_salesman')
        cls.loner = new_test_user(cls.env, 'fast_loner', groups='sales_team.group_sale_salesman')
        cls.team = cls.env['crm.team'].create({'name': 'Clinic front desk', 'use_leads': True,
                                               'use_opportunities': True, 'sequence': 1,
                                               'member_ids': [(4, cls.member.id)]})
        # A stage of that team only, first in sequence: the team's leads start there.
        cls.team_stage = cls.env['crm.stage'].create({'name': 'Front desk intake', 'sequence': 0,
                                                      'team_ids': [(4, cls.team.id)]})
        cls.lead_team = cls.env['crm.team'].create({'name': 'Leads only', 'use_leads': True,
                                                    'use_opportunities': False,
                                                    'member_ids': [(4, cls.loner.id)]})
        cls.partner = cls.env['res.partner'].create({'name': 'Existing patient', 'email': 'known@mail.test'})

    def _snapshot(self, lead):
        self.env.flush_all()
        lead.invalidate_recordset()
        return {name: lead[name].id if hasattr(lead[name], 'id') else lead[name] for name in COMPARED}

    def assertSameLead(self, fast, plain, label):
        for name in COMPARED:
            self.assertEqual(fast[name], plain[name], "%s: %s differs" % (label, name))

    def test_fast_path_gives_the_lead_plain_create_gives(self):
        """A lead created with the per-batch values equals one created by plain create() from the same row."""
        variants = {
            'team member': {'user_id': self.member.id},
            'team member, lead': {'user_id': self.member.id, 'type': 'lead'},
            'member of a leads-only team, opportunity': {'user_id': self.loner.id, 'type': 'opportunity'},
            'member of a leads-only team, lead': {'user_id': self.loner.id, 'type': 'lead'},
            'no salesperson': {'user_id': False},
            'no salesperson, a contact': {'user_id': False, 'partner_id': self.partner.id},
            'salesperson left to the default': {},
            'own team given': {'user_id': self.member.id, 'team_id': self.lead_team.id},
            'own stage given': {'user_id': self.member.id,
                                'stage_id': self.env.ref('crm.stage_lead2').id},
            'won stage': {'user_id': self.member.id, 'stage_id': self.env['crm.stage'].search(
                [('is_won', '=', True)], limit=1).id},
            'archived (lost)': {'user_id': self.member.id, 'active': False},
        }
        base = {'name': 'Ana Patient', 'contact_name': 'Ana Patient', 'email_from': 'ana@mail.test',
                'phone': '+61 2 9000 0001'}
        rows = [dict(base, **values) for values in variants.values()]
        filled = fast_defaults.prefill(self.Lead, [dict(row) for row in rows])
        self.assertTrue(all('team_id' in vals and 'stage_id' in vals and 'company_id' in vals for vals in filled))
        # One lead per create(), the fast one rolled back before the plain one: predictive scoring
        # depends on which leads it scores together and on the won/lost history each create() adds.
        for label, vals, row in zip(variants, filled, rows, strict=True):
            savepoint = self.env.cr.savepoint()
            fast = self._snapshot(self.Lead.create([vals]))
            savepoint.close(rollback=True)
            self.env.invalidate_all()
            plain = self._snapshot(self.Lead.create([dict(row)]))
            self.assertEqual(fast, plain, label)
        fast = self.Lead.create(filled[:3])
        # The comparison is about something: the team's own stage and team were picked.
        self.assertEqual(fast[0].team_id, self.team)
        self.assertEqual(fast[0].stage_id, self.team_stage)
        self.assertEqual(fast[2].team_id, self.team.browse(self.env['crm.team']._get_default_team_id(
            user_id=self.loner.id, domain=[('use_opportunities', '=', True)]).id))

    def test_context_defaults_win(self):
        """A default_ key in the context stands, as in create()."""
        Lead = self.Lead.with_context(default_team_id=self.lead_team.id, default_type='lead')
        rows = [{'name': 'Context lead', 'user_id': self.member.id}]
        fast = Lead.create(fast_defaults.prefill(Lead, [dict(row) for row in rows]))
        plain = Lead.create([dict(row) for row in rows])
        self.assertSameLead(fast, plain, 'context defaults')
        self.assertEqual(fast.team_id, self.lead_team)
        self.assertEqual(fast.type, 'lead')


@tagged('crm_migration', 'post_install', '-at_install')
class TestPatientBatchQueries(MigrationCaseMixin, TransactionCase):
    """A batch of patients costs a bounded number of queries per patient, not several each."""

    def _load(self, count, start=1):
        project = self.env['crm.migration.project'].create({
            'name': 'Query count %d' % start, 'batch_size': 500, 'source_tz': 'Australia/Sydney'})
        project._upload_export({'patients.csv': make_csv([PATIENT_HEADER] + patient_rows(count, start))})
        project.action_prepare_fields()
        run = project._create_run('full')
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        run._execute()
        self.env.flush_all()
        queries = self.env.cr.sql_log_count - before
        self.assertEqual(run.state, 'done', run.message)
        self.assertEqual(sum(run.stat_ids.mapped('created_count')), count, [
            (stat.object_id.name, stat.read_count, stat.failed_count, stat.skipped_count) for stat in run.stat_ids]
            + project.issue_ids.mapped('message')[:3]
            + self.env['crm.migration.record'].search([('project_id', '=', project.id)], limit=3).mapped('message'))
        return project, queries

    def test_queries_per_patient(self):
        """Per-record defaults are resolved per batch: 200 patients cost well under one query each,
        and 200 more in the same batch cost far fewer queries than the first 200 did."""
        project, small = self._load(200)
        _project, large = self._load(400, start=1001)
        per_patient = large / 400
        self.assertLess(per_patient, 1.0, "%d queries for 400 patients" % large)
        # What a patient adds to a batch (the slope), not what a run costs once.
        self.assertLess((large - small) / 200, 0.5, "%d then %d queries" % (small, large))
        self.project = project
        lead = self.target('patients', 'P00001')
        self.assertTrue(lead.team_id and lead.stage_id, "the per-batch values landed")
