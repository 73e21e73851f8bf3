# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Rollback of posted invoices whose lines are a separate object, under a restrictive audit trail."""
from odoo.tests import tagged

from ..services.constants import LIVE_OPERATIONS
from .test_api_migration import ApiMigrationCase, TestClinikoMigration


@tagged('crm_migration', 'post_install', '-at_install')
class TestAuditTrailRollback(ApiMigrationCase):
    __test__ = True
    ACCOUNT = TestClinikoMigration.ACCOUNT
    COUNTED = TestClinikoMigration.COUNTED
    EXPECTED = TestClinikoMigration.EXPECTED

    @classmethod
    def prepare_odoo(cls):
        TestClinikoMigration.prepare_odoo.__func__(cls)
        cls.env.company.restrictive_audit_trail = True

    def test_rollback_posted_invoice_with_audit_trail(self):
        self.require_full_run()
        invoice = self.target('invoices', '108')
        self.assertEqual(invoice.state, 'posted')
        product_lines_before = invoice.invoice_line_ids.ids
        self.run_rollback()
        # The company keeps every posted entry: the invoice is cancelled with all its items.
        self.assertEqual(invoice.state, 'cancel')
        self.assertEqual(invoice.invoice_line_ids.ids, product_lines_before,
                         "a cancelled (kept) posted invoice lost its journal items")
        # The contact and products the kept invoice points to cannot go: archived, still linked.
        kept = self.project.record_ids.filtered(lambda r: r.operation in LIVE_OPERATIONS)
        self.assertEqual(set(kept.mapped(lambda r: (r.object_id.name, r.res_model))),
                         {('patients', 'res.partner'), ('billable_items', 'product.template')})
        for link in kept:
            self.assertFalse(self.env[link.res_model].with_context(active_test=False).browse(link.res_id).active)
            self.assertIn('Archived instead of removed', link.message)
        self.assertEqual(invoice.partner_id, self.env['res.partner'].browse(
            kept.filtered(lambda r: r.res_model == 'res.partner').res_id))
        self.run_full()
        new = self.target('invoices', '108')
        self.assertNotEqual(new, invoice)
        self.assertTrue(new.invoice_line_ids, "re-created invoice has no lines")
        self.assertEqual(new.partner_id, invoice.partner_id, "the kept contact is used again")
        self.assertTrue(new.partner_id.active)
