"""Contains all the data models used in inputs/outputs"""

from .app_type import AppType
from .attempt_view import AttemptView
from .bootstrap_input import BootstrapInput
from .bootstrap_input_config_type_0 import BootstrapInputConfigType0
from .bootstrap_input_secrets import BootstrapInputSecrets
from .bootstrap_step_view import BootstrapStepView
from .bootstrap_view import BootstrapView
from .check_view import CheckView
from .container_line_view import ContainerLineView
from .create_server import CreateServer
from .create_webhook import CreateWebhook
from .created_webhook_view import CreatedWebhookView
from .database_lock_view import DatabaseLockView
from .declaration import Declaration
from .delivery_status import DeliveryStatus
from .delivery_view import DeliveryView
from .deployment_input import DeploymentInput
from .deployment_input_config_type_0 import DeploymentInputConfigType0
from .deployment_input_secrets import DeploymentInputSecrets
from .deployment_input_strategy_type_0 import DeploymentInputStrategyType0
from .deployment_input_variables_type_0 import DeploymentInputVariablesType0
from .deployment_kind import DeploymentKind
from .deployment_links import DeploymentLinks
from .deployment_status import DeploymentStatus
from .deployment_summary import DeploymentSummary
from .deployment_view import DeploymentView
from .drift_kind import DriftKind
from .drift_view import DriftView
from .event_filter import EventFilter
from .event_kind import EventKind
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
from .jump_host_by_address import JumpHostByAddress
from .labels import Labels
from .last_deployment_view import LastDeploymentView
from .live_view import LiveView
from .lock_release_view import LockReleaseView
from .log_line_view import LogLineView
from .log_source_error_view import LogSourceErrorView
from .on_failure import OnFailure
from .operation_input import OperationInput
from .page_delivery_view import PageDeliveryView
from .page_deployment_summary import PageDeploymentSummary
from .page_event_view import PageEventView
from .page_server_view import PageServerView
from .page_service_view import PageServiceView
from .page_template_view import PageTemplateView
from .page_webhook_view import PageWebhookView
from .plan_view import PlanView
from .plan_view_config import PlanViewConfig
from .plan_view_plan import PlanViewPlan
from .preflight_check_view import PreflightCheckView
from .problem import Problem
from .progress_view import ProgressView
from .promotion_view import PromotionView
from .recurring_window_view import RecurringWindowView
from .registered_jump_host import RegisteredJumpHost
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
from .target_status import TargetStatus
from .target_view import TargetView
from .template_input import TemplateInput
from .template_view import TemplateView
from .update_server import UpdateServer
from .update_webhook import UpdateWebhook
from .variable import Variable
from .variable_type import VariableType
from .wave_view import WaveView
from .webhook_view import WebhookView
from .weekday import Weekday

__all__ = (
    "AppType",
    "AttemptView",
    "BootstrapInput",
    "BootstrapInputConfigType0",
    "BootstrapInputSecrets",
    "BootstrapStepView",
    "BootstrapView",
    "CheckView",
    "ContainerLineView",
    "CreatedWebhookView",
    "CreateServer",
    "CreateWebhook",
    "DatabaseLockView",
    "Declaration",
    "DeliveryStatus",
    "DeliveryView",
    "DeploymentInput",
    "DeploymentInputConfigType0",
    "DeploymentInputSecrets",
    "DeploymentInputStrategyType0",
    "DeploymentInputVariablesType0",
    "DeploymentKind",
    "DeploymentLinks",
    "DeploymentStatus",
    "DeploymentSummary",
    "DeploymentView",
    "DriftKind",
    "DriftView",
    "EventFilter",
    "EventKind",
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
    "JumpHostByAddress",
    "Labels",
    "LastDeploymentView",
    "LiveView",
    "LockReleaseView",
    "LogLineView",
    "LogSourceErrorView",
    "OnFailure",
    "OperationInput",
    "PageDeliveryView",
    "PageDeploymentSummary",
    "PageEventView",
    "PageServerView",
    "PageServiceView",
    "PageTemplateView",
    "PageWebhookView",
    "PlanView",
    "PlanViewConfig",
    "PlanViewPlan",
    "PreflightCheckView",
    "Problem",
    "ProgressView",
    "PromotionView",
    "RecurringWindowView",
    "RegisteredJumpHost",
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
    "TargetStatus",
    "TargetView",
    "TemplateInput",
    "TemplateView",
    "UpdateServer",
    "UpdateWebhook",
    "Variable",
    "VariableType",
    "WaveView",
    "WebhookView",
    "Weekday",
)
