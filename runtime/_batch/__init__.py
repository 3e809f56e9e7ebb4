"""Provider batch jobs: OpenAI's, Anthropic's and Gemini's batch APIs behind one BatchJob."""

from cloudburst._batch.job import BatchJob
from cloudburst._batch.status import BatchStatus, PartStatus

__all__ = ["BatchJob", "BatchStatus", "PartStatus"]
