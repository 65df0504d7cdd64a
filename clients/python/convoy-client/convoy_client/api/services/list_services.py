from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.page_service_view import PageServiceView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params["destination"] = destination

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/services",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PageServiceView | Problem | None:
    if response.status_code == 200:
        response_200 = PageServiceView.from_dict(response.json())

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
) -> Response[PageServiceView | Problem]:
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
    destination: str | Unset = UNSET,
) -> Response[PageServiceView | Problem]:
    """The org's services: per service and destination, what is live on each server and role
    and the newest deployment. Ordered by service, then destination.

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageServiceView | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        destination=destination,
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
    destination: str | Unset = UNSET,
) -> PageServiceView | Problem | None:
    """The org's services: per service and destination, what is live on each server and role
    and the newest deployment. Ordered by service, then destination.

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageServiceView | Problem
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        destination=destination,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> Response[PageServiceView | Problem]:
    """The org's services: per service and destination, what is live on each server and role
    and the newest deployment. Ordered by service, then destination.

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageServiceView | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        destination=destination,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> PageServiceView | Problem | None:
    """The org's services: per service and destination, what is live on each server and role
    and the newest deployment. Ordered by service, then destination.

    Args:
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageServiceView | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            destination=destination,
        )
    ).parsed
