"""What each kind of job is asked for: its parameters, checked when the job is queued."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.job_queue import JobKind


class BookParameters(BaseModel):
    """A map book as ``GET /campuses/{id}/book.pdf`` makes it."""

    model_config = ConfigDict(extra="forbid")

    size: Literal["letter", "tabloid", "arch-d"] = "letter"
    level: int | None = Field(None, ge=-1000, le=1000)
    revision: int | None = Field(None, ge=1, le=2**31 - 1, description="default: current")


class PackageParameters(BaseModel):
    """An offline package, unsealed: a passphrase would have to be stored with the job, so
    sealed packages are made by ``POST /campuses/{id}/package.zip`` only."""

    model_config = ConfigDict(extra="forbid")

    revision: int | None = Field(None, ge=1, le=2**31 - 1, description="default: current")
    min_zoom: int | None = Field(None, ge=12, le=22)
    max_zoom: int | None = Field(None, ge=12, le=22)
    book: bool = True


class ImportParameters(BaseModel):
    """A campus manifest on the server's disk (queued by the CLI, not over the API), imported
    as ``gridmap import`` does: for the district ``org`` (else the campus's owner, else the
    only district): a draft, unless ``publish`` is true (then published in the same job through
    the atomic publish, expecting the revision current when the import began)."""

    model_config = ConfigDict(extra="forbid")

    manifest: str = Field(min_length=1, max_length=4096)
    org: str | None = Field(None, max_length=200)
    publish: bool = False
    #: the workspace (browser upload) the import is for: its report is kept with it
    workspace: str | None = Field(None, max_length=100)


class AnalysisParameters(BaseModel):
    """A file uploaded to a workspace whose drawings are read in the background (queued by
    the upload, never over the jobs API): the file, and for a zip the names of its DXF members
    (relative to where it was unpacked); none for a DXF uploaded alone. No server paths: the
    job finds the bytes through the workspace's record of the file."""

    model_config = ConfigDict(extra="forbid")

    workspace: str = Field(max_length=40, pattern=r"^ws_[0-9a-f]{1,32}$")
    file: str = Field(max_length=40, pattern=r"^wf_[0-9a-f]{1,32}$")
    #: the file's name as uploaded (said when the job failed and the file is gone)
    name: str = Field("", max_length=300)
    members: list[str] | None = Field(None, max_length=1000)


PARAMETERS: dict[JobKind, type[BaseModel]] = {
    JobKind.BOOK: BookParameters, JobKind.PACKAGE: PackageParameters,
    JobKind.IMPORT: ImportParameters, JobKind.ANALYSIS: AnalysisParameters,
}


def parse_parameters(kind: JobKind, raw: Mapping[str, Any]) -> BaseModel:
    """The parameters of a job of ``kind``, or :class:`InvalidJobParameters` naming what is
    wrong (a passphrase for a package gets its own explanation)."""
    from api.errors import InvalidParameter

    if kind is JobKind.PACKAGE and "passphrase" in raw:
        raise InvalidParameter(
            "a package job cannot be sealed",
            user_message="a queued package is never sealed: its passphrase would be stored "
            "with the job. Ask POST /campuses/{id}/package.zip for a sealed package")
    try:
        return PARAMETERS[kind].model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}"
            for e in exc.errors())
        raise InvalidParameter(f"{kind} job parameters: {problems}",
                               user_message=f"{kind} job parameters: {problems}") from None

