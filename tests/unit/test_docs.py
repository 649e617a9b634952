"""The README's configuration table covers every setting of the settings model."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from tau.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def env_names(model: type[BaseModel], prefix: str = "TAU_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)]
        nested = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and name != "universes":
            names += env_names(nested[0], env + "__")
        else:
            names.append(env)
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    names = env_names(Settings)
    assert "TAU_MQTT__TLS__CA_FILE" in names and "TAU_DMX__UNIVERSES" in names
    missing = [n for n in names if f"`{n}`" not in README]
    assert missing == []
