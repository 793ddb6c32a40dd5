"""The one error every importer raises for a source file it cannot read.

`ImportFormatError` is a ValueError whose message is one line: the file, the episode when known,
and what is wrong (`data/main_data.hdf5: episode 3: unreadable hdf5 file (truncated file ...)`).
The command line prints it as that one line and exits non-zero, without a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path


def one_line(text: object) -> str:
    """`text` (an exception or a message) with its whitespace runs, newlines included, as one
    space: library errors (h5py, FFmpeg, Arrow) sometimes span several lines."""
    return re.sub(r"\s+", " ", str(text)).strip()


def image_error(err: Exception) -> str:
    """Why Pillow could not decode an image, without the object address it names
    (`cannot identify image file <_io.BytesIO object at 0x…>`)."""
    from PIL import UnidentifiedImageError

    if isinstance(err, UnidentifiedImageError):
        return "not a JPEG, PNG or other image Pillow reads"
    return one_line(err)[:200]


class ImportFormatError(ValueError):
    """A source file that cannot be imported: `file`, `episode` (or None) and `reason`."""

    def __init__(self, file: str | Path, reason: object, episode: int | None = None):
        self.file, self.reason, self.episode = str(file), one_line(reason), episode
        where = self.file if episode is None else f"{self.file}: episode {episode}"
        super().__init__(f"{where}: {self.reason}")

    def at_episode(self, episode: int) -> ImportFormatError:
        """The same error naming `episode`, unless it names one already."""
        if self.episode is not None:
            return self
        return type(self)(self.file, self.reason, episode)

    def __reduce__(self):  # picklable across DataLoader worker processes
        return type(self), (self.file, self.reason, self.episode)
