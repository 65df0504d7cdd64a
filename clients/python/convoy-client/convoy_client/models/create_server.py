from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.jump_host_by_address import JumpHostByAddress
    from ..models.labels import Labels
    from ..models.registered_jump_host import RegisteredJumpHost


T = TypeVar("T", bound="CreateServer")


@_attrs_define
class CreateServer:
    """Register a fleet host reachable over SSH.

    Example:
        {'hostname': 'web-1.customer.example', 'labels': {'region': 'eu-west'}, 'name': 'web-1', 'port': 22,
            'ssh_private_key': '-----BEGIN OPENSSH PRIVATE KEY-----\\n...\\n-----END OPENSSH PRIVATE KEY-----\\n',
            'ssh_proxy': {'server_id': '0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e'}, 'ssh_user': 'deploy'}

    Attributes:
        hostname (str): DNS name or IP address. Loopback, link-local and cloud-metadata addresses (and
            `localhost`) are refused unless the operator allows their range
            (`CONVOY_ALLOWED_NETWORKS`); a name resolving there is refused when contacted.
        name (str): Unique within the org; deploy configs may name the server by it.
        ssh_private_key (str): Unencrypted private key in OpenSSH or PEM form (`-----BEGIN OPENSSH PRIVATE
            KEY-----` …); it must parse. Write-only: never returned.
        host_key (None | str | Unset): The host's public key (`ssh-ed25519 AAAA…`) or its `SHA256:…` fingerprint; it
            must
            parse. When omitted, the key is pinned on first contact.
        labels (Labels | Unset): Free-form labels (`group_by` of a rollout strategy reads them): names of 1-63 letters,
            digits, '-', '_' or '.', values of at most 255 characters.
        port (int | None | Unset): SSH port (default 22).
        ssh_proxy (JumpHostByAddress | None | RegisteredJumpHost | Unset):
        ssh_user (None | str | Unset): SSH user (default `root`, as Kamal).
    """

    hostname: str
    name: str
    ssh_private_key: str
    host_key: None | str | Unset = UNSET
    labels: Labels | Unset = UNSET
    port: int | None | Unset = UNSET
    ssh_proxy: JumpHostByAddress | None | RegisteredJumpHost | Unset = UNSET
    ssh_user: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.jump_host_by_address import JumpHostByAddress  # noqa: PLC0415
        from ..models.registered_jump_host import RegisteredJumpHost  # noqa: PLC0415

        hostname = self.hostname

        name = self.name

        ssh_private_key = self.ssh_private_key

        host_key: None | str | Unset
        if isinstance(self.host_key, Unset):
            host_key = UNSET
        else:
            host_key = self.host_key

        labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels.to_dict()

        port: int | None | Unset
        if isinstance(self.port, Unset):
            port = UNSET
        else:
            port = self.port

        ssh_proxy: dict[str, Any] | None | Unset
        if isinstance(self.ssh_proxy, Unset):
            ssh_proxy = UNSET
        elif isinstance(self.ssh_proxy, RegisteredJumpHost):
            ssh_proxy = self.ssh_proxy.to_dict()
        elif isinstance(self.ssh_proxy, JumpHostByAddress):
            ssh_proxy = self.ssh_proxy.to_dict()
        else:
            ssh_proxy = self.ssh_proxy

        ssh_user: None | str | Unset
        if isinstance(self.ssh_user, Unset):
            ssh_user = UNSET
        else:
            ssh_user = self.ssh_user

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "hostname": hostname,
                "name": name,
                "ssh_private_key": ssh_private_key,
            }
        )
        if host_key is not UNSET:
            field_dict["host_key"] = host_key
        if labels is not UNSET:
            field_dict["labels"] = labels
        if port is not UNSET:
            field_dict["port"] = port
        if ssh_proxy is not UNSET:
            field_dict["ssh_proxy"] = ssh_proxy
        if ssh_user is not UNSET:
            field_dict["ssh_user"] = ssh_user

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.jump_host_by_address import JumpHostByAddress  # noqa: PLC0415
        from ..models.labels import Labels  # noqa: PLC0415
        from ..models.registered_jump_host import RegisteredJumpHost  # noqa: PLC0415

        d = dict(src_dict)
        hostname = d.pop("hostname")

        name = d.pop("name")

        ssh_private_key = d.pop("ssh_private_key")

        def _parse_host_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_key = _parse_host_key(d.pop("host_key", UNSET))

        _labels = d.pop("labels", UNSET)
        labels: Labels | Unset
        if isinstance(_labels, Unset):
            labels = UNSET
        else:
            labels = Labels.from_dict(_labels)

        def _parse_port(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        port = _parse_port(d.pop("port", UNSET))

        def _parse_ssh_proxy(data: object) -> JumpHostByAddress | None | RegisteredJumpHost | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_ssh_proxy_input_registered_jump_host = RegisteredJumpHost.from_dict(data)

                return componentsschemas_ssh_proxy_input_registered_jump_host
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_ssh_proxy_input_jump_host_by_address = JumpHostByAddress.from_dict(data)

                return componentsschemas_ssh_proxy_input_jump_host_by_address
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JumpHostByAddress | None | RegisteredJumpHost | Unset, data)

        ssh_proxy = _parse_ssh_proxy(d.pop("ssh_proxy", UNSET))

        def _parse_ssh_user(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_user = _parse_ssh_user(d.pop("ssh_user", UNSET))

        create_server = cls(
            hostname=hostname,
            name=name,
            ssh_private_key=ssh_private_key,
            host_key=host_key,
            labels=labels,
            port=port,
            ssh_proxy=ssh_proxy,
            ssh_user=ssh_user,
        )

        return create_server
