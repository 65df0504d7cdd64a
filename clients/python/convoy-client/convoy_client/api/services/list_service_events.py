from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.page_event_view import PageEventView
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    *,
    destination: str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["destination"] = destination

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/services/{service}/events".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PageEventView | Problem | None:
    if response.status_code == 200:
        response_200 = PageEventView.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[PageEventView | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
) -> Response[PageEventView | Problem]:
    """A service's events (`drift_detected` with the drift in `metadata.drift`,
    `drift_cleared`), oldest first. Empty for a service without any.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageEventView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        destination=destination,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
) -> PageEventView | Problem | None:
    """A service's events (`drift_detected` with the drift in `metadata.drift`,
    `drift_cleared`), oldest first. Empty for a service without any.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageEventView | Problem
    """

    return sync_detailed(
        service=service,
        client=client,
        destination=destination,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
) -> Response[PageEventView | Problem]:
    """A service's events (`drift_detected` with the drift in `metadata.drift`,
    `drift_cleared`), oldest first. Empty for a service without any.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PageEventView | Problem]
    """

    kwargs = _get_kwargs(
        service=service,
        destination=destination,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    service: str,
    *,
    client: AuthenticatedClient,
    destination: str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: str | Unset = UNSET,
) -> PageEventView | Problem | None:
    """A service's events (`drift_detected` with the drift in `metadata.drift`,
    `drift_cleared`), oldest first. Empty for a service without any.

    Args:
        service (str): Service name
        destination (str | Unset): Kamal destination; empty for none
        limit (int | Unset):  Default: 100.
        cursor (str | Unset): Opaque cursor

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PageEventView | Problem
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            destination=destination,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
