from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_kind import DeploymentKind
from ...models.deployment_status import DeploymentStatus
from ...models.page_deployment_summary import PageDeploymentSummary
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    service: str | Unset = UNSET,
    server_id: UUID | Unset = UNSET,
    status: DeploymentStatus | None | Unset = UNSET,
    live: bool | Unset = UNSET,
    kind: DeploymentKind | None | Unset = UNSET,
    include: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params["service"] = service

    json_server_id: str | Unset = UNSET
    if not isinstance(server_id, Unset):
        json_server_id = str(server_id)
    params["server_id"] = json_server_id

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, DeploymentStatus):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    params["live"] = live

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    elif isinstance(kind, DeploymentKind):
        json_kind = kind.value
    else:
        json_kind = kind
    params["kind"] = json_kind

    params["include"] = include

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/deployments",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PageDeploymentSummary | Problem | None:
    if response.status_code == 200:
        response_200 = PageDeploymentSummary.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[PageDeploymentSummary | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    service: str | Unset = UNSET,
    server_id: UUID | Unset = UNSET,
    status: DeploymentStatus | None | Unset = UNSET,
    live: bool | Unset = UNSET,
    kind: DeploymentKind | None | Unset = UNSET,
    include: str | Unset = UNSET,
) -> Response[PageDeploymentSummary | Problem]:
    """The org's deployments, newest first, optionally filtered: summaries without the config
    and the targets unless `include` asks for them (docs/API.md, "Deployment summaries").

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        service (str | Unset):
        server_id (UUID | Unset):
        status (DeploymentStatus | None | Unset):
        live (bool | Unset):
        kind (DeploymentKind | None | Unset):
        include (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageDeploymentSummary | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        service=service,
        server_id=server_id,
        status=status,
        live=live,
        kind=kind,
        include=include,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    service: str | Unset = UNSET,
    server_id: UUID | Unset = UNSET,
    status: DeploymentStatus | None | Unset = UNSET,
    live: bool | Unset = UNSET,
    kind: DeploymentKind | None | Unset = UNSET,
    include: str | Unset = UNSET,
) -> PageDeploymentSummary | Problem | None:
    """The org's deployments, newest first, optionally filtered: summaries without the config
    and the targets unless `include` asks for them (docs/API.md, "Deployment summaries").

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        service (str | Unset):
        server_id (UUID | Unset):
        status (DeploymentStatus | None | Unset):
        live (bool | Unset):
        kind (DeploymentKind | None | Unset):
        include (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageDeploymentSummary | Problem
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        service=service,
        server_id=server_id,
        status=status,
        live=live,
        kind=kind,
        include=include,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    service: str | Unset = UNSET,
    server_id: UUID | Unset = UNSET,
    status: DeploymentStatus | None | Unset = UNSET,
    live: bool | Unset = UNSET,
    kind: DeploymentKind | None | Unset = UNSET,
    include: str | Unset = UNSET,
) -> Response[PageDeploymentSummary | Problem]:
    """The org's deployments, newest first, optionally filtered: summaries without the config
    and the targets unless `include` asks for them (docs/API.md, "Deployment summaries").

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        service (str | Unset):
        server_id (UUID | Unset):
        status (DeploymentStatus | None | Unset):
        live (bool | Unset):
        kind (DeploymentKind | None | Unset):
        include (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageDeploymentSummary | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        service=service,
        server_id=server_id,
        status=status,
        live=live,
        kind=kind,
        include=include,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    service: str | Unset = UNSET,
    server_id: UUID | Unset = UNSET,
    status: DeploymentStatus | None | Unset = UNSET,
    live: bool | Unset = UNSET,
    kind: DeploymentKind | None | Unset = UNSET,
    include: str | Unset = UNSET,
) -> PageDeploymentSummary | Problem | None:
    """The org's deployments, newest first, optionally filtered: summaries without the config
    and the targets unless `include` asks for them (docs/API.md, "Deployment summaries").

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        service (str | Unset):
        server_id (UUID | Unset):
        status (DeploymentStatus | None | Unset):
        live (bool | Unset):
        kind (DeploymentKind | None | Unset):
        include (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageDeploymentSummary | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            service=service,
            server_id=server_id,
            status=status,
            live=live,
            kind=kind,
            include=include,
        )
    ).parsed
