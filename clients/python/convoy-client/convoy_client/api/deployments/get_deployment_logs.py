from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: UUID,
    *,
    after: int | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["after"] = after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/deployments/{id}/logs".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | str | None:
    if response.status_code == 200:
        response_200 = response.text
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

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Problem | str]:
    """A deployment's log as JSON lines (`application/x-ndjson`), one `LogLineView` per line,
    oldest first. Pass the last `seq` seen as `after` to continue. With
    `Accept: text/event-stream` the answer is a live Server-Sent Events stream: `log`
    events (id = seq, data = a LogLineView), `target` events (a TargetView without `steps`) when a
    target's status or step changes (the first look sends every target), `status` events
    (`{status, progress}`, a ProgressView) when the deployment's status or progress
    changes, and a final `end` event once it has ended; `Last-Event-ID` resumes. A stream
    ends early with a `reconnect` event (`reason`: `idle` when a deployment that is not
    running had no news for a while, `token_expired` at the token's `exp`); an org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        id (UUID):
        after (int | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = 100,
) -> Problem | str | None:
    """A deployment's log as JSON lines (`application/x-ndjson`), one `LogLineView` per line,
    oldest first. Pass the last `seq` seen as `after` to continue. With
    `Accept: text/event-stream` the answer is a live Server-Sent Events stream: `log`
    events (id = seq, data = a LogLineView), `target` events (a TargetView without `steps`) when a
    target's status or step changes (the first look sends every target), `status` events
    (`{status, progress}`, a ProgressView) when the deployment's status or progress
    changes, and a final `end` event once it has ended; `Last-Event-ID` resumes. A stream
    ends early with a `reconnect` event (`reason`: `idle` when a deployment that is not
    running had no news for a while, `token_expired` at the token's `exp`); an org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        id (UUID):
        after (int | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return sync_detailed(
        id=id,
        client=client,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Problem | str]:
    """A deployment's log as JSON lines (`application/x-ndjson`), one `LogLineView` per line,
    oldest first. Pass the last `seq` seen as `after` to continue. With
    `Accept: text/event-stream` the answer is a live Server-Sent Events stream: `log`
    events (id = seq, data = a LogLineView), `target` events (a TargetView without `steps`) when a
    target's status or step changes (the first look sends every target), `status` events
    (`{status, progress}`, a ProgressView) when the deployment's status or progress
    changes, and a final `end` event once it has ended; `Last-Event-ID` resumes. A stream
    ends early with a `reconnect` event (`reason`: `idle` when a deployment that is not
    running had no news for a while, `token_expired` at the token's `exp`); an org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        id (UUID):
        after (int | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        id=id,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = 100,
) -> Problem | str | None:
    """A deployment's log as JSON lines (`application/x-ndjson`), one `LogLineView` per line,
    oldest first. Pass the last `seq` seen as `after` to continue. With
    `Accept: text/event-stream` the answer is a live Server-Sent Events stream: `log`
    events (id = seq, data = a LogLineView), `target` events (a TargetView without `steps`) when a
    target's status or step changes (the first look sends every target), `status` events
    (`{status, progress}`, a ProgressView) when the deployment's status or progress
    changes, and a final `end` event once it has ended; `Last-Event-ID` resumes. A stream
    ends early with a `reconnect` event (`reason`: `idle` when a deployment that is not
    running had no news for a while, `token_expired` at the token's `exp`); an org holding
    `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.

    Args:
        id (UUID):
        after (int | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            after=after,
            limit=limit,
        )
    ).parsed
