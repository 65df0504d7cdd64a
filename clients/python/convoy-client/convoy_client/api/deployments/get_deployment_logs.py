from http import HTTPStatus
from typing import Any, cast
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
    after: int | None | Unset = UNSET,
    limit: int | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_after: int | None | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    json_limit: int | None | Unset
    if isinstance(limit, Unset):
        json_limit = UNSET
    else:
        json_limit = limit
    params["limit"] = json_limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/deployments/{id}/logs".format(
            id=quote(str(id), safe=""),
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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
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
    after: int | None | Unset = UNSET,
    limit: int | None | Unset = UNSET,
) -> Response[Any | Problem]:
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
        after (int | None | Unset):
        limit (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
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
    after: int | None | Unset = UNSET,
    limit: int | None | Unset = UNSET,
) -> Any | Problem | None:
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
        after (int | None | Unset):
        limit (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
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
    after: int | None | Unset = UNSET,
    limit: int | None | Unset = UNSET,
) -> Response[Any | Problem]:
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
        after (int | None | Unset):
        limit (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
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
    after: int | None | Unset = UNSET,
    limit: int | None | Unset = UNSET,
) -> Any | Problem | None:
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
        after (int | None | Unset):
        limit (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            after=after,
            limit=limit,
        )
    ).parsed
