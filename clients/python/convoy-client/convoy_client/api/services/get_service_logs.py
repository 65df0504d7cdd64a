from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    service: str,
    *,
    host: None | str | Unset = UNSET,
    role: None | str | Unset = UNSET,
    lines: int | None | Unset = UNSET,
    since: None | str | Unset = UNSET,
    destination: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_host: None | str | Unset
    if isinstance(host, Unset):
        json_host = UNSET
    else:
        json_host = host
    params["host"] = json_host

    json_role: None | str | Unset
    if isinstance(role, Unset):
        json_role = UNSET
    else:
        json_role = role
    params["role"] = json_role

    json_lines: int | None | Unset
    if isinstance(lines, Unset):
        json_lines = UNSET
    else:
        json_lines = lines
    params["lines"] = json_lines

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    else:
        json_since = since
    params["since"] = json_since

    json_destination: None | str | Unset
    if isinstance(destination, Unset):
        json_destination = UNSET
    else:
        json_destination = destination
    params["destination"] = json_destination

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/services/{service}/logs".format(
            service=quote(str(service), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Problem | None:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
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
    host: None | str | Unset = UNSET,
    role: None | str | Unset = UNSET,
    lines: int | None | Unset = UNSET,
    since: None | str | Unset = UNSET,
    destination: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
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
        service (str):
        host (None | str | Unset):
        role (None | str | Unset):
        lines (int | None | Unset):
        since (None | str | Unset):
        destination (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
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
    host: None | str | Unset = UNSET,
    role: None | str | Unset = UNSET,
    lines: int | None | Unset = UNSET,
    since: None | str | Unset = UNSET,
    destination: None | str | Unset = UNSET,
) -> Any | Problem | None:
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
        service (str):
        host (None | str | Unset):
        role (None | str | Unset):
        lines (int | None | Unset):
        since (None | str | Unset):
        destination (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
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
    host: None | str | Unset = UNSET,
    role: None | str | Unset = UNSET,
    lines: int | None | Unset = UNSET,
    since: None | str | Unset = UNSET,
    destination: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
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
        service (str):
        host (None | str | Unset):
        role (None | str | Unset):
        lines (int | None | Unset):
        since (None | str | Unset):
        destination (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
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
    host: None | str | Unset = UNSET,
    role: None | str | Unset = UNSET,
    lines: int | None | Unset = UNSET,
    since: None | str | Unset = UNSET,
    destination: None | str | Unset = UNSET,
) -> Any | Problem | None:
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
        service (str):
        host (None | str | Unset):
        role (None | str | Unset):
        lines (int | None | Unset):
        since (None | str | Unset):
        destination (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
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
