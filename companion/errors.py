"""A small error hierarchy with stable codes, one family per stage.

The codes are part of the product's contract: the light, `companion doctor` and (later) the usage counts
refer to them, so change a code only with a migration of whatever counts it.
"""

from __future__ import annotations


class CompanionError(Exception):
    """Base of every error the companion reports in plain language."""

    code = "companion"

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  Fix: {self.fix}" if self.fix else self.message


class SettingsError(CompanionError):
    code = "settings"


class ModelError(CompanionError):
    """A model file is missing, corrupt, or does not fit."""

    code = "model"


class DownloadError(ModelError):
    code = "model.download"


class AudioDeviceError(CompanionError):
    code = "audio.device"


class HardwareError(CompanionError):
    code = "hardware"


class MissingPackageError(CompanionError):
    """A heavy optional library is not installed; the message names the pip package."""

    code = "package.missing"

    def __init__(self, module: str, package: str) -> None:
        super().__init__(
            f"The Python package '{package}' is needed here but is not installed (import {module} failed).",
            f"pip install {package}",
        )


class SttError(CompanionError):
    code = "stt"


class LlmError(CompanionError):
    code = "llm"


class TtsError(CompanionError):
    code = "tts"


class MindError(CompanionError):
    """The dialog policy could not keep what it must keep (its memory file)."""

    code = "mind"


class StoreError(CompanionError):
    """The database could not be opened, checked, migrated or written."""

    code = "store"


class ReminderError(CompanionError):
    """A reminder was refused; the message says why in words a relative understands.

    `reason` is stable, so a page can say it in its user's language next to the right field: no_text,
    too_long, no_name, unknown_group, no_such_date, dst_gap, in_the_past, too_far, rule.
    """

    code = "reminder"

    def __init__(self, message: str, fix: str = "", reason: str = "rule") -> None:
        super().__init__(message, fix)
        self.reason = reason


class HubError(CompanionError):
    """The hub could not be reached, refused this device's credential, or answered what sync cannot use."""

    code = "hub"

    def __init__(self, message: str, fix: str = "", refused: bool = False) -> None:
        super().__init__(message, fix)
        self.refused = refused
        """The hub refused the credential (revoked or unknown): trying again will not help."""
