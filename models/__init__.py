# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import crm_migration_project
from . import crm_migration_project_ledger
from . import crm_migration_object
from . import crm_migration_field
from . import crm_migration_mapping_change
from . import crm_migration_value_map
from . import crm_migration_run
from . import crm_migration_run_counters
from . import crm_migration_run_stat
from . import crm_migration_run_batch
from . import crm_migration_run_queue
from . import crm_migration_record
from . import crm_migration_issue
from . import crm_migration_diff
from . import ir_attachment
from . import crm_migration_issue_mapping
