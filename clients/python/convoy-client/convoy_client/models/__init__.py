"""Contains all the data models used in inputs/outputs"""

from .bootstrap_input import BootstrapInput
from .bootstrap_input_config_type_0 import BootstrapInputConfigType0
from .bootstrap_input_secrets import BootstrapInputSecrets
from .bootstrap_step_view import BootstrapStepView
from .bootstrap_view import BootstrapView
from .check_view import CheckView
from .container_line_view import ContainerLineView
from .create_server import CreateServer
from .create_server_labels import CreateServerLabels
from .create_server_ssh_proxy_type_0 import CreateServerSshProxyType0
from .database_lock_view import DatabaseLockView
from .deployment_input import DeploymentInput
from .deployment_input_config_type_0 import DeploymentInputConfigType0
from .deployment_input_secrets import DeploymentInputSecrets
from .deployment_input_strategy_type_0 import DeploymentInputStrategyType0
from .deployment_input_variables_type_0 import DeploymentInputVariablesType0
from .deployment_links import DeploymentLinks
from .deployment_view import DeploymentView
from .drift_kind import DriftKind
from .drift_view import DriftView
from .event_view import EventView
from .exec_input import ExecInput
from .field_error import FieldError
from .found_container import FoundContainer
from .gate_kind_view import GateKindView
from .gate_view import GateView
from .health import Health
from .host_inspection_view import HostInspectionView
from .host_lock_view import HostLockView
from .inspect_view import InspectView
from .last_deployment_view import LastDeploymentView
from .live_view import LiveView
from .lock_release_view import LockReleaseView
from .log_line_view import LogLineView
from .log_source_error_view import LogSourceErrorView
from .operation_input import OperationInput
from .page_deployment_view import PageDeploymentView
from .page_deployment_view_items_item import PageDeploymentViewItemsItem
from .page_event_view import PageEventView
from .page_event_view_items_item import PageEventViewItemsItem
from .page_server_view import PageServerView
from .page_server_view_items_item import PageServerViewItemsItem
from .page_server_view_items_item_ssh_proxy_type_0 import PageServerViewItemsItemSshProxyType0
from .page_service_view import PageServiceView
from .page_service_view_items_item import PageServiceViewItemsItem
from .page_template_view import PageTemplateView
from .page_template_view_items_item import PageTemplateViewItemsItem
from .plan_view import PlanView
from .plan_view_config import PlanViewConfig
from .plan_view_plan import PlanViewPlan
from .preflight_check_view import PreflightCheckView
from .problem import Problem
from .progress_view import ProgressView
from .promotion_view import PromotionView
from .recurring_window_view import RecurringWindowView
from .render_input import RenderInput
from .render_input_variables import RenderInputVariables
from .render_view import RenderView
from .render_view_config import RenderViewConfig
from .rollout_view import RolloutView
from .server_view import ServerView
from .server_view_ssh_proxy_type_0 import ServerViewSshProxyType0
from .service_lock_view import ServiceLockView
from .service_logs_view import ServiceLogsView
from .service_view import ServiceView
from .service_windows_input import ServiceWindowsInput
from .service_windows_view import ServiceWindowsView
from .step_view import StepView
from .target_view import TargetView
from .template_input import TemplateInput
from .template_view import TemplateView
from .update_server import UpdateServer
from .update_server_labels_type_0 import UpdateServerLabelsType0
from .update_server_ssh_proxy_type_0 import UpdateServerSshProxyType0
from .wave_view import WaveView

__all__ = (
    "BootstrapInput",
    "BootstrapInputConfigType0",
    "BootstrapInputSecrets",
    "BootstrapStepView",
    "BootstrapView",
    "CheckView",
    "ContainerLineView",
    "CreateServer",
    "CreateServerLabels",
    "CreateServerSshProxyType0",
    "DatabaseLockView",
    "DeploymentInput",
    "DeploymentInputConfigType0",
    "DeploymentInputSecrets",
    "DeploymentInputStrategyType0",
    "DeploymentInputVariablesType0",
    "DeploymentLinks",
    "DeploymentView",
    "DriftKind",
    "DriftView",
    "EventView",
    "ExecInput",
    "FieldError",
    "FoundContainer",
    "GateKindView",
    "GateView",
    "Health",
    "HostInspectionView",
    "HostLockView",
    "InspectView",
    "LastDeploymentView",
    "LiveView",
    "LockReleaseView",
    "LogLineView",
    "LogSourceErrorView",
    "OperationInput",
    "PageDeploymentView",
    "PageDeploymentViewItemsItem",
    "PageEventView",
    "PageEventViewItemsItem",
    "PageServerView",
    "PageServerViewItemsItem",
    "PageServerViewItemsItemSshProxyType0",
    "PageServiceView",
    "PageServiceViewItemsItem",
    "PageTemplateView",
    "PageTemplateViewItemsItem",
    "PlanView",
    "PlanViewConfig",
    "PlanViewPlan",
    "PreflightCheckView",
    "Problem",
    "ProgressView",
    "PromotionView",
    "RecurringWindowView",
    "RenderInput",
    "RenderInputVariables",
    "RenderView",
    "RenderViewConfig",
    "RolloutView",
    "ServerView",
    "ServerViewSshProxyType0",
    "ServiceLockView",
    "ServiceLogsView",
    "ServiceView",
    "ServiceWindowsInput",
    "ServiceWindowsView",
    "StepView",
    "TargetView",
    "TemplateInput",
    "TemplateView",
    "UpdateServer",
    "UpdateServerLabelsType0",
    "UpdateServerSshProxyType0",
    "WaveView",
)
