"""Hides payment-card and Israeli ID numbers in text that goes into customer e-mails.

The rules live in :mod:`core.masking` (every separator, the Luhn check, the ID
check digit), so the console's transcript, the stored handoff events and the
logs mask exactly as the e-mails do; this module keeps the old import path.
"""

from __future__ import annotations

from core.masking import MASK, is_valid_israeli_id, luhn_valid, mask_card, mask_id, mask_sensitive

__all__ = ["MASK", "is_valid_israeli_id", "luhn_valid", "mask_card", "mask_id", "mask_sensitive"]
