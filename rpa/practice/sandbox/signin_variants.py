"""The sign-in pages a scenario serves: which version of them (Amazon shows several), the
check before them, the remembered accounts and the prompts after a successful sign-in.

Part of the scenario file (``sign_in`` in :mod:`rpa.practice.sandbox.scenario`), kept
apart: a block of models of its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


PromptKind = Literal["passkey", "add_mobile", "account_fixup", "notice"]


class Prompt(_Strict):
    """A page shown after a successful sign-in, before the page that was asked for."""

    kind: PromptKind
    # The words of the link that goes on without changing anything; a "notice" whose words
    # the bot does not know is an unknown page it must stop at.
    way_on: str = Field(default="Not now", min_length=1)


# Where the device-choice page offers to get the one-time code: the authenticator app
# (TOTP), a text or a call to the phone on file.
OtpDevice = Literal["totp", "sms", "voice"]


class RememberedAccount(_Strict):
    """An account the browser remembers, listed on the "Switch accounts" page."""

    email: str = Field(min_length=3)
    name: str = ""


class Challenge(_Strict):
    """A check Amazon puts before the sign-in page.

    ``waf``: AWS WAF's JavaScript check (an empty page that reloads itself once its script
    got a token); it clears after ``clears_after_ms``, or never when that is not given.
    ``button_wall``: "Click the button below to continue shopping", cleared only by a click.
    """

    kind: Literal["waf", "button_wall"]
    clears_after_ms: int | None = Field(default=None, ge=0, le=120_000)

    @model_validator(mode="after")
    def _only_waf_clears(self) -> Challenge:
        if self.kind != "waf" and self.clears_after_ms is not None:
            raise ValueError("clears_after_ms goes with kind: waf only")
        return self


class SignInVariant(_Strict):
    """Which version of the sign-in pages the scenario serves (Amazon shows several)."""

    one_page: bool = False  # email and password on one form, no Continue step
    # The email step is the "Sign in or create account" page at /ax/claim.
    claim: bool = False
    # The "Switch accounts" page shown first, listing these remembered accounts.
    account_chooser: list[RememberedAccount] = []
    remember_device_box: bool = True  # the OTP page offers "Don't require OTP on this browser"
    captcha: bool = False  # an image CAPTCHA on the password page
    select_device: bool = False  # "choose where to send the code" before the OTP page
    # What the device choice offers, the first one chosen already.
    device_options: list[OtpDevice] = Field(default=["sms", "voice"], min_length=1)
    verification: bool = False  # a verification (CVF) page instead of the OTP page
    verification_label: str = Field(default="Enter code", min_length=1)
    verification_field_id: str = Field(default="input-box-otp", pattern=r"^[A-Za-z][\w-]*$")
    cvf_captcha: bool = False  # after the password, a CVF page asking for CAPTCHA characters
    challenge: Challenge | None = None  # a check before the sign-in page
    prompts: list[Prompt] = []  # shown in this order after each successful sign-in

    @field_validator("device_options")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each device may be offered once")
        return value
