"""What a provider's batch API must do for a BatchJob, whatever its shape.

The job owns the order of steps, the manifest and the results; a protocol only speaks its
provider's wire: how one request is written into a batch input, how a part is submitted (and
found again after a crash), polled, fetched and cancelled, and how one result line reads. Each
item's answer is then parsed by the same generated adapter as an online answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from cloudburst._batch.control import Control
from cloudburst._batch.manifest import Manifest, Part
from cloudburst._errors import ProviderError
from cloudburst._route import Route

Item = tuple[int, Any] | ProviderError
"""One request's result: the status and body of its answer (parsed as an online answer would
be), or an error with no answer (expired, cancelled)."""
Save = Callable[[], None]


class BatchProtocol(Protocol):
    def line(self, custom_id: str, route: Route, body: bytes) -> bytes:
        """One request as a line of the part's input file (no newline)."""
        ...

    async def submit(self, job: Manifest, part: Part, route: Route, control: Control, save: Save) -> None:
        """Upload what must be uploaded and create the batch: sets `part.input_file` and
        `part.provider_id`, calling `save` after each so a crash loses neither. Before its create
        call the job has saved `part.step = "submitting"`."""
        ...

    async def find(self, job: Manifest, part: Part, control: Control) -> str | None:
        """The provider's id of a batch this part's interrupted create call made, if any."""
        ...

    async def poll(self, part: Part, control: Control) -> None:
        """The part's state and counts now (`succeeded`, `errored`, `pending`: not yet run, and
        `expired`, `cancelled` where the provider counts them); on its end, `outcome`, `results` (and `error` when
        the whole batch failed) and `step = "ended"`."""
        ...

    async def fetch(self, job: Manifest, part: Part, control: Control) -> None:
        """Every results file of an ended part into `job.file(part, "results<k>")`."""
        ...

    def items(self, record: Any) -> Iterator[tuple[Any, Item]]:
        """The (custom_id, result) pairs a results line holds (usually one)."""
        ...

    async def cancel(self, part: Part, control: Control) -> None: ...


def counted(counts: dict[str, Any]) -> dict[str, int]:
    """A provider's counts as ints (Google sends int64 as strings); others dropped."""
    out = {}
    for name, value in counts.items():
        try:
            out[name] = int(value)
        except (TypeError, ValueError):
            continue
    return out


def failed(error: ProviderError) -> str:
    return f"{error.kind}: {error}"
