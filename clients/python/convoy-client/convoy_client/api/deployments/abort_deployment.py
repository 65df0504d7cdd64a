from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deployment_view import DeploymentView
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/deployments/{id}/abort".format(
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeploymentView | Problem | None:
    if response.status_code == 202:
        response_202 = DeploymentView.from_dict(response.json())

        return response_202

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeploymentView | Problem]:
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
) -> Response[DeploymentView | Problem]:
    """Abort a rollout.

     Allowed once a worker has started it and until it ends (statuses `deploying`,
    `awaiting_promotion`, `monitoring`, `paused`): the worker stops at the next step
    boundary, returns every host that switched (the canaries, during a bake or while
    awaiting promotion) to the version it ran before and ends the deployment `aborted`.
    A deployment that has not started is cancelled instead (`POST …/cancel`).

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> DeploymentView | Problem | None:
    """Abort a rollout.

     Allowed once a worker has started it and until it ends (statuses `deploying`,
    `awaiting_promotion`, `monitoring`, `paused`): the worker stops at the next step
    boundary, returns every host that switched (the canaries, during a bake or while
    awaiting promotion) to the version it ran before and ends the deployment `aborted`.
    A deployment that has not started is cancelled instead (`POST …/cancel`).

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return sync_detailed(
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[DeploymentView | Problem]:
    """Abort a rollout.

     Allowed once a worker has started it and until it ends (statuses `deploying`,
    `awaiting_promotion`, `monitoring`, `paused`): the worker stops at the next step
    boundary, returns every host that switched (the canaries, during a bake or while
    awaiting promotion) to the version it ran before and ends the deployment `aborted`.
    A deployment that has not started is cancelled instead (`POST …/cancel`).

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeploymentView | Problem]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> DeploymentView | Problem | None:
    """Abort a rollout.

     Allowed once a worker has started it and until it ends (statuses `deploying`,
    `awaiting_promotion`, `monitoring`, `paused`): the worker stops at the next step
    boundary, returns every host that switched (the canaries, during a bake or while
    awaiting promotion) to the version it ran before and ends the deployment `aborted`.
    A deployment that has not started is cancelled instead (`POST …/cancel`).

    Args:
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeploymentView | Problem
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
        )
    ).parsed
