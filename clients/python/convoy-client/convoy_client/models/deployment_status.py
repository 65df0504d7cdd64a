from enum import StrEnum


class DeploymentStatus(StrEnum):
    ABORTED = "aborted"
    AWAITING_PROMOTION = "awaiting_promotion"
    CANCELLED = "cancelled"
    DEPLOYED = "deployed"
    DEPLOYING = "deploying"
    EXPIRED = "expired"
    FAILED = "failed"
    MONITORING = "monitoring"
    PAUSED = "paused"
    PENDING = "pending"
    ROLLED_BACK = "rolled_back"
    SCHEDULED = "scheduled"

    def __str__(self) -> str:
        return str(self.value)
