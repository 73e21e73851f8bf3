# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_connectors_tabular
from . import test_converters
from . import test_mapper
from . import test_clinic_migration
from . import test_rerun_rollback
from . import test_schema
from . import test_security
from . import test_cron
from . import test_runs
from . import test_crash_resume
from . import test_workbench
from . import test_clientjoy
from . import test_api_migration
from . import test_regressions
from . import test_audit_trail_rollback
from . import test_clio_rates
from . import test_reupload
