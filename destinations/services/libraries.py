"""Transformation libraries' services. As in RudderStack, saving a library publishes the
transformations that import it: each gets a new version with the library's new code, so that
a delivery's versions say exactly what code made it, and a library that would break one of
them is refused whole."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from .. import sandbox
from ..delivery.transforming import limits
from ..models import Transformation, TransformationLibrary
from ..models.transformations import import_name
from .transformations import save_code


def importers(handle: str) -> QuerySet[Transformation]:
    """The transformations whose current version imports the library named `handle`."""
    current = Transformation.objects.filter(current_version__libraries__has_key=handle)
    return current.select_related("current_version").order_by("name")


@transaction.atomic
def save_library(
    name: str,
    code: str,
    author: str = "",
    description: str = "",
    library: TransformationLibrary | None = None,
) -> tuple[TransformationLibrary, list[Transformation]]:
    """Create or change a library; returns it and the transformations given a new version.
    ValidationError when its code cannot load, its import name is taken, or a transformation
    that imports it would no longer load (then nothing is saved)."""
    handle = import_name(name)
    if not handle:
        raise ValidationError("the name needs a letter or a digit: it is imported by its name")
    others = TransformationLibrary.objects.exclude(pk=library.pk if library else None)
    if any(other.handle == handle for other in others):
        raise ValidationError(f'another library is imported as "{handle}" already')
    check_library(handle, code)
    renamed = library is not None and library.handle != handle
    if renamed and (users := ", ".join(_names(library.handle))):
        raise ValidationError(
            f'renamed, it would be imported as "{handle}", not "{library.handle}" as {users} do'
        )
    library = library or TransformationLibrary()
    library.name, library.description, library.code = name, description, code
    library.full_clean()
    library.save()
    published = []
    for transformation in importers(handle):
        try:
            changed = save_code(transformation, transformation.code, author)
        except ValidationError as error:
            raise ValidationError(
                f"“{transformation.name}” would no longer load: {' '.join(error.messages)}"
            ) from None
        if changed:
            published.append(transformation)
    return library, published


def check_library(handle: str, code: str) -> None:
    """ValidationError, with the line, when the library's code cannot load."""
    importer = f'import * as library from "{handle}";\nfunction transformEvent(e) {{ return e }}'
    try:
        sandbox.Script(importer, limits(), {handle: code})
    except sandbox.ScriptError as error:
        raise ValidationError(str(error)) from None


def delete_library(library: TransformationLibrary) -> None:
    """ValidationError while a transformation imports it."""
    if in_use := still_imported(library):
        raise ValidationError(in_use)
    library.delete()


def still_imported(library: TransformationLibrary) -> str:
    """Why the library cannot go, or "" when nothing imports it."""
    users = _names(library.handle)
    if len(users) == 1:
        return f"{users[0]} imports it: change it first"
    return f"{', '.join(users)} import it: change them first" if users else ""


def _names(handle: str) -> list[str]:
    return [f"“{t.name}”" for t in importers(handle)]
