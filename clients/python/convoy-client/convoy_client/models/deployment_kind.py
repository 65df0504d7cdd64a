from enum import StrEnum


class DeploymentKind(StrEnum):
    ACCESSORY_BOOT = "accessory_boot"
    ACCESSORY_REBOOT = "accessory_reboot"
    ACCESSORY_REMOVE = "accessory_remove"
    DEPLOY = "deploy"
    EXEC = "exec"
    REMOVE = "remove"
    RESTART = "restart"
    ROLLBACK = "rollback"
    START = "start"
    STOP = "stop"

    def __str__(self) -> str:
        return str(self.value)
