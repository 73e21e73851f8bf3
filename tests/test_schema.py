# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from unittest.mock import patch

from odoo.tests import BaseCase, tagged

from ..services import definitions, schema
from ..services.constants import selection_keys
from .common import CrmMigrationCommon


@tagged('crm_migration', 'post_install', '-at_install')
class TestSchema(CrmMigrationCommon):
    """The x_ fields of the mapping: created once, shown, listed in a manifest."""

    def test_custom_fields_created_in_one_pass(self):
        Fields = self.env['ir.model.fields']
        original = type(Fields).create
        calls = []

        def create(records, vals_list):
            calls.append(len(vals_list) if isinstance(vals_list, list) else 1)
            return original(records, vals_list)

        with patch.object(type(Fields), 'create', create):
            self.project.action_prepare_fields()
        self.assertEqual(len(calls), 1, "one create, hence one registry reload, for all fields")
        created = self.project.custom_field_ids
        self.assertEqual(calls[0], len(created))
        by_key = {(f.model, f.name): f for f in created}
        expected = {
            ('res.partner', 'x_practitioner_id'): 'char',
            ('res.partner', 'x_specialty'): 'char',
            ('res.partner', 'x_license_number'): 'char',
            ('crm.lead', 'x_source_patient_id'): 'char',
            ('crm.lead', 'x_date_of_birth'): 'date',
            ('crm.lead', 'x_additional_phones'): 'char',
            ('crm.lead', 'x_referral_source'): 'selection',
            ('crm.lead', 'x_emergency_contact'): 'char',
            ('crm.lead', 'x_appointment_id'): 'char',
            ('crm.lead', 'x_appointment_date'): 'datetime',
            ('crm.lead', 'x_appointment_type'): 'char',
            ('crm.lead', 'x_appointment_duration'): 'integer',
            ('crm.lead', 'x_practitioner_id'): 'many2one',
            ('crm.lead', 'x_patient_lead_id'): 'many2one',
            ('sale.order', 'x_insurance_carrier'): 'char',
            ('sale.order', 'x_claim_number'): 'char',
            ('sale.order', 'x_procedure_codes'): 'char',
            ('sale.order', 'x_source_total_amount'): 'float',
            ('sale.order.line', 'x_source_line_id'): 'char',
        }
        self.assertEqual({key: f.ttype for key, f in by_key.items()}, expected)
        self.assertTrue(all(f.state == 'manual' for f in created))
        self.assertEqual(by_key['crm.lead', 'x_practitioner_id'].relation, 'res.partner')
        self.assertEqual(by_key['crm.lead', 'x_referral_source'].selection_ids.mapped('value'),
                         ['gp', 'website', 'friend'])
        # A second pass creates nothing.
        with patch.object(type(Fields), 'create', create):
            self.project.action_prepare_fields()
        self.assertEqual(len(calls), 1)

    def test_migrated_data_page_on_forms(self):
        self.project.action_prepare_fields()
        views = self.project.custom_view_ids
        self.assertEqual(set(views.mapped('model')), {'crm.lead', 'res.partner', 'sale.order'})
        arch = self.env['crm.lead'].get_view(self.env.ref('crm.crm_lead_view_form').id, 'form')['arch']
        self.assertIn('Migrated data', arch)
        for name in ('x_date_of_birth', 'x_source_patient_id', 'x_referral_source', 'x_practitioner_id'):
            self.assertIn('name="%s"' % name, arch)
        partner_arch = self.env['res.partner'].get_view(self.env.ref('base.view_partner_form').id, 'form')['arch']
        self.assertIn('name="x_license_number"', partner_arch)

    def test_manifest_lists_every_custom_field(self):
        manifest = json.loads(self.downloaded(self.project.action_download_manifest()))
        fields = {(f['model'], f['field']): f for f in manifest['fields']}
        self.assertEqual(fields['crm.lead', 'x_date_of_birth']['status'], 'to create')
        self.assertEqual(fields['crm.lead', 'x_date_of_birth']['type'], 'date')
        self.assertEqual(fields['crm.lead', 'x_date_of_birth']['sources'], ['patients.date_of_birth'])
        self.assertEqual(fields['crm.lead', 'x_referral_source']['selection'], ['GP', 'Website', 'Friend'])
        self.assertEqual(fields['sale.order', 'x_insurance_carrier']['sources'], ['invoices.insurance_carrier'])
        self.project.action_prepare_fields()
        statuses = {f['status'] for f in schema.custom_field_manifest(self.project)['fields']}
        self.assertEqual(statuses, {'present'})


@tagged('crm_migration')
class TestSelectionKeys(BaseCase):

    def test_distinct_values_never_share_a_key(self):
        self.assertEqual(selection_keys(['A+', 'A-', 'a+', ' AB+ ', 'Высокий', 'Низкий', '< 10k', '> 10k', '']), [
            ('a', 'A+'), ('a_2', 'A-'), ('ab', 'AB+'), ('value', 'Высокий'), ('value_2', 'Низкий'),
            ('10k', '< 10k'), ('10k_2', '> 10k')])

    def test_definition_column_keys(self):
        self.assertEqual(definitions.column_keys('Client Tier', 'Client Tier'), ('cf_client_tier', 'client_tier'))
        self.assertEqual(definitions.column_keys('Риск', 'Риск'), (), "nothing to match a column by")
