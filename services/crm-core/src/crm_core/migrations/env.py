from crm_core.models import Base
from crm_kit.db.migrations import run_env

run_env(Base.metadata)
