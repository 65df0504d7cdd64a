from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.service_logs_view import ServiceLogsView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    *,
    host: str | Unset = UNSET,
    role: str | Unset = UNSET,
    lines: int | Unset = UNSET,
    since: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["host"] = host

    params["role"] = role

    params["lines"] = lines

    params["since"] = since

    params["destination"] = destination

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/services/{service}/logs".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ServiceLogsView | None:
    if response.status_code == 200:
        response_200 = ServiceLogsView.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | ServiceLogsView]:
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
    host: str | Unset = UNSET,
    role: str | Unset = UNSET,
    lines: int | Unset = UNSET,
    since: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> Response[Problem | ServiceLogsView]:
    """The output of a service's live containers.

     `docker logs --timestamps --tail N [--since S]` of the container each live (server,
    role) runs, narrowed by `host` and `role`; lines of every container ordered by time.
    The live deployments' secret values are blanked in every line. With
    `Accept: text/event-stream` the output is followed (`docker logs --follow`): a `line`
    event per line (data: a ContainerLineView), an `ended` event when a container's output
    ends (`error` empty when the container stopped), and a last `end` event once every
    container's has; the stream also ends when the token expires. An org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        service (str): Service name
        host (str | Unset):
        role (str | Unset): Role name
        lines (int | Unset):
        since (str | Unset): Go duration
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLogsView]
    """

    kwargs = _get_kwargs(
        service=service,
        host=host,
        role=role,
        lines=lines,
        since=since,
        destination=destination,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    service: str,
    *,
    client: AuthenticatedClient,
    host: str | Unset = UNSET,
    role: str | Unset = UNSET,
    lines: int | Unset = UNSET,
    since: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> Problem | ServiceLogsView | None:
    """The output of a service's live containers.

     `docker logs --timestamps --tail N [--since S]` of the container each live (server,
    role) runs, narrowed by `host` and `role`; lines of every container ordered by time.
    The live deployments' secret values are blanked in every line. With
    `Accept: text/event-stream` the output is followed (`docker logs --follow`): a `line`
    event per line (data: a ContainerLineView), an `ended` event when a container's output
    ends (`error` empty when the container stopped), and a last `end` event once every
    container's has; the stream also ends when the token expires. An org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        service (str): Service name
        host (str | Unset):
        role (str | Unset): Role name
        lines (int | Unset):
        since (str | Unset): Go duration
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLogsView
    """

    return sync_detailed(
        service=service,
        client=client,
        host=host,
        role=role,
        lines=lines,
        since=since,
        destination=destination,
    ).parsed


async def asyncio_detailed(
    service: str,
    *,
    client: AuthenticatedClient,
    host: str | Unset = UNSET,
    role: str | Unset = UNSET,
    lines: int | Unset = UNSET,
    since: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> Response[Problem | ServiceLogsView]:
    """The output of a service's live containers.

     `docker logs --timestamps --tail N [--since S]` of the container each live (server,
    role) runs, narrowed by `host` and `role`; lines of every container ordered by time.
    The live deployments' secret values are blanked in every line. With
    `Accept: text/event-stream` the output is followed (`docker logs --follow`): a `line`
    event per line (data: a ContainerLineView), an `ended` event when a container's output
    ends (`error` empty when the container stopped), and a last `end` event once every
    container's has; the stream also ends when the token expires. An org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        service (str): Service name
        host (str | Unset):
        role (str | Unset): Role name
        lines (int | Unset):
        since (str | Unset): Go duration
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ServiceLogsView]
    """

    kwargs = _get_kwargs(
        service=service,
        host=host,
        role=role,
        lines=lines,
        since=since,
        destination=destination,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    service: str,
    *,
    client: AuthenticatedClient,
    host: str | Unset = UNSET,
    role: str | Unset = UNSET,
    lines: int | Unset = UNSET,
    since: str | Unset = UNSET,
    destination: str | Unset = UNSET,
) -> Problem | ServiceLogsView | None:
    """The output of a service's live containers.

     `docker logs --timestamps --tail N [--since S]` of the container each live (server,
    role) runs, narrowed by `host` and `role`; lines of every container ordered by time.
    The live deployments' secret values are blanked in every line. With
    `Accept: text/event-stream` the output is followed (`docker logs --follow`): a `line`
    event per line (data: a ContainerLineView), an `ended` event when a container's output
    ends (`error` empty when the container stopped), and a last `end` event once every
    container's has; the stream also ends when the token expires. An org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        service (str): Service name
        host (str | Unset):
        role (str | Unset): Role name
        lines (int | Unset):
        since (str | Unset): Go duration
        destination (str | Unset): Kamal destination; empty for none

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ServiceLogsView
    """

    return (
        await asyncio_detailed(
            service=service,
            client=client,
            host=host,
            role=role,
            lines=lines,
            since=since,
            destination=destination,
        )
    ).parsed
