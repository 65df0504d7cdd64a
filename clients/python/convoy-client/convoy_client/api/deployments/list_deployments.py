from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.page_deployment_view import PageDeploymentView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    service: None | str | Unset = UNSET,
    server_id: None | Unset | UUID = UNSET,
    status: None | str | Unset = UNSET,
    live: bool | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_limit: int | None | Unset
    if isinstance(limit, Unset):
        json_limit = UNSET
    else:
        json_limit = limit
    params["limit"] = json_limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    json_service: None | str | Unset
    if isinstance(service, Unset):
        json_service = UNSET
    else:
        json_service = service
    params["service"] = json_service

    json_server_id: None | str | Unset
    if isinstance(server_id, Unset):
        json_server_id = UNSET
    elif isinstance(server_id, UUID):
        json_server_id = str(server_id)
    else:
        json_server_id = server_id
    params["server_id"] = json_server_id

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    else:
        json_status = status
    params["status"] = json_status

    json_live: bool | None | Unset
    if isinstance(live, Unset):
        json_live = UNSET
    else:
        json_live = live
    params["live"] = json_live

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    else:
        json_kind = kind
    params["kind"] = json_kind

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/deployments",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PageDeploymentView | Problem | None:
    if response.status_code == 200:
        response_200 = PageDeploymentView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[PageDeploymentView | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    service: None | str | Unset = UNSET,
    server_id: None | Unset | UUID = UNSET,
    status: None | str | Unset = UNSET,
    live: bool | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
) -> Response[PageDeploymentView | Problem]:
    """The org's deployments, newest first, optionally filtered.

    Args:
        limit (int | None | Unset):
        cursor (None | str | Unset):
        service (None | str | Unset):
        server_id (None | Unset | UUID):
        status (None | str | Unset):
        live (bool | None | Unset):
        kind (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageDeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        service=service,
        server_id=server_id,
        status=status,
        live=live,
        kind=kind,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    service: None | str | Unset = UNSET,
    server_id: None | Unset | UUID = UNSET,
    status: None | str | Unset = UNSET,
    live: bool | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
) -> PageDeploymentView | Problem | None:
    """The org's deployments, newest first, optionally filtered.

    Args:
        limit (int | None | Unset):
        cursor (None | str | Unset):
        service (None | str | Unset):
        server_id (None | Unset | UUID):
        status (None | str | Unset):
        live (bool | None | Unset):
        kind (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageDeploymentView | Problem
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
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    service: None | str | Unset = UNSET,
    server_id: None | Unset | UUID = UNSET,
    status: None | str | Unset = UNSET,
    live: bool | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
) -> Response[PageDeploymentView | Problem]:
    """The org's deployments, newest first, optionally filtered.

    Args:
        limit (int | None | Unset):
        cursor (None | str | Unset):
        service (None | str | Unset):
        server_id (None | Unset | UUID):
        status (None | str | Unset):
        live (bool | None | Unset):
        kind (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageDeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        service=service,
        server_id=server_id,
        status=status,
        live=live,
        kind=kind,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    service: None | str | Unset = UNSET,
    server_id: None | Unset | UUID = UNSET,
    status: None | str | Unset = UNSET,
    live: bool | None | Unset = UNSET,
    kind: None | str | Unset = UNSET,
) -> PageDeploymentView | Problem | None:
    """The org's deployments, newest first, optionally filtered.

    Args:
        limit (int | None | Unset):
        cursor (None | str | Unset):
        service (None | str | Unset):
        server_id (None | Unset | UUID):
        status (None | str | Unset):
        live (bool | None | Unset):
        kind (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageDeploymentView | Problem
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
        )
    ).parsed
