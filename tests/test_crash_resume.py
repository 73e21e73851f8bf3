# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import os
import signal
import subprocess
import sys

from odoo.tests import BaseCase, tagged
from odoo.tools import config

WORKER = os.path.join(os.path.dirname(__file__), 'crash_worker.py')
# The counters of a run that nobody killed (see test_clinic_migration):
# object: [read, created, updated, unchanged, skipped, failed]
EXPECTED = {
    'practitioners': [3, 2, 0, 0, 1, 0],
    'patients': [6, 5, 0, 0, 0, 1],
    'appointments': [7, 4, 0, 0, 0, 3],
    'invoices': [3, 2, 0, 0, 0, 1],
    'invoice_lines': [4, 3, 0, 0, 0, 1],
    'attachments': [3, 2, 0, 0, 0, 1],
}


@tagged('crm_migration', 'post_install', '-at_install')
class TestCrashResume(BaseCase):
    """kill -9 of the Odoo process running a migration, then the cron resumes it.

    The worker runs in its own database (a copy of the freshly installed test
    database made by scripts/test.sh) because this test's transaction would
    never see what another process commits.
    """

    def worker(self, db, *args, killed=False):
        addons_path = config['addons_path']
        if not isinstance(addons_path, str):
            addons_path = ','.join(addons_path)
        command = [sys.executable, WORKER, db, addons_path, config['data_dir'], *map(str, args)]
        process = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                 env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        if killed:
            self.assertEqual(process.returncode, -signal.SIGKILL, process.stderr[-2000:])
            return None
        self.assertEqual(process.returncode, 0, process.stderr[-2000:])
        return json.loads(process.stdout.strip().splitlines()[-1])

    def scratch_db(self, suffix):
        base = os.environ.get('CRM_MIGRATION_SCRATCH_DB')
        self.assertTrue(base, "run the tests with scripts/test.sh, which prepares the scratch database")
        db = '%s_%s' % (base, suffix)
        subprocess.run(['dropdb', '--if-exists', db], check=True, capture_output=True)
        subprocess.run(['createdb', '-T', base, db], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ['dropdb', '--if-exists', db], capture_output=True)
        return db

    def check_resumed(self, db, project_id):
        report = self.worker(db, 'report', project_id)
        self.assertEqual(report['state'], 'done')
        self.assertEqual(report['runs'], 1)
        self.assertEqual(report['stats'], EXPECTED)
        self.assertEqual(report['leads'], 9, "5 patients + 4 appointments")
        self.assertEqual(report['distinct_leads'], 9, "nothing created twice")
        self.assertEqual(report['orders'], 2)
        self.assertEqual(report['activities'], 4)

    def test_killed_between_batches(self):
        db = self.scratch_db('between')
        project_id = self.worker(db, 'setup')['project_id']
        # Batches of 2 rows: practitioners are batches 1-2, patients 3-5; batch 4
        # holds P003 and P004 (whose birth date is invalid).
        self.worker(db, 'run', project_id, 4, 'between', killed=True)
        partial = self.worker(db, 'report', project_id)
        self.assertEqual(partial['state'], 'running')
        self.assertEqual(partial['stats']['patients'], [4, 3, 0, 0, 0, 1], "two committed batches of patients")
        self.worker(db, 'resume')
        self.check_resumed(db, project_id)

    def test_killed_inside_a_batch(self):
        db = self.scratch_db('inside')
        project_id = self.worker(db, 'setup')['project_id']
        # Batch 7 is the second batch of appointments: written, never committed.
        self.worker(db, 'run', project_id, 7, 'inside', killed=True)
        partial = self.worker(db, 'report', project_id)
        self.assertEqual(partial['stats']['appointments'][0], 2, "only the committed batch counts")
        self.worker(db, 'resume')
        self.check_resumed(db, project_id)
