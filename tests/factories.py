"""Test data: realistic customer profiles in Chinese and English, from Faker."""

from __future__ import annotations

import random
from typing import Any

from faker import Faker

_fakers = {"zh_CN": Faker("zh_CN"), "en_US": Faker("en_US")}


def cn_mobile(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return "+86138" + "".join(str(rng.randint(0, 9)) for _ in range(8))


def make_profile(locale: str = "zh_CN", *, seed: int | None = None, **overrides: Any
                 ) -> dict[str, Any]:
    """A complete, valid profile: every mandatory field and some of each group."""
    fake = _fakers[locale]
    if seed is not None:
        fake.seed_instance(seed)
    rng = random.Random(seed)
    country = "CN" if locale == "zh_CN" else "US"
    profile: dict[str, Any] = {
        "source_channel": rng.choice(
            ["sales", "customer_service", "market_research", "partner", "other"]),
        "basic": {
            "name": fake.company(),
            "legal_representative": fake.name(),
            "address": {"country": country, "city": fake.city(), "street": fake.street_address()},
            "phone": cn_mobile(rng),
            "email": fake.company_email(),
            "business_scope": fake.bs() if locale == "en_US" else fake.sentence(),
        },
        "business": {"scale": rng.choice(["micro", "small", "medium", "large"]),
                     "business_type": fake.word()},
        "contacts": [{"name": fake.name(), "title": fake.job()[:100], "phone": cn_mobile(rng)}],
        "needs": {"functional_needs": fake.sentence(),
                  "price_expectation": {"amount": f"{rng.randint(1, 10**6)}.50",
                                        "currency": "CNY"}},
        "credit": {"rating": rng.choice(["AAA", "AA", "A", "BBB"]),
                   "credit_limit": {"amount": str(rng.randint(1000, 10**7)), "currency": "CNY"}},
        "other": {"special_requirements": fake.sentence()},
    }
    for path, value in overrides.items():
        group, _, field = path.partition("__")
        if field:
            profile[group][field] = value
        else:
            profile[group] = value
    return profile
