"""Generate the Godot addon's protobuf codec (GDScript 2.0) from protos/.

One ``<name>_pb.gd`` per ``.proto`` file, next to the hand-written ``wire.gd`` runtime:
every message becomes an inner class with typed fields, ``encode()``, ``decode()``,
``merge_from()`` and ``to_dict()``; every enum a GDScript enum. protoc (grpc_tools, from
.venv) parses the protos; this script only walks the descriptors.

    python scripts/clients/godot/gen_codec.py           # write the files
    python scripts/clients/godot/gen_codec.py --check   # exit 1 if they are stale (CI)
"""

from __future__ import annotations

import argparse
import difflib
import importlib.resources
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2 as d
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[3]
PROTOS = ROOT / "protos"
OUT = ROOT / "godot_client" / "addons" / "npc_dialogue" / "proto"
LINE = 100  # gdlint's max-line-length
F = d.FieldDescriptorProto

# Words a field cannot be called in GDScript (keywords, and what RefCounted or the
# generated class already defines); such a field gets a trailing underscore.
RESERVED = frozenset((
    "if", "elif", "else", "for", "while", "match", "when", "break", "continue", "pass",
    "return", "class", "class_name", "extends", "is", "in", "as", "self", "signal", "func",
    "static", "const", "enum", "var", "breakpoint", "preload", "await", "yield", "assert",
    "void", "super", "trait", "namespace", "and", "or", "not", "true", "false", "null", "PI",
    "TAU", "INF", "NAN", "get", "set", "call", "free", "connect", "disconnect", "notification",
    "encode", "decode", "merge_from", "to_dict",
))
# Godot's own types and classes: a message or enum named like one gets "Proto" appended
# (an enum Color would not resolve from other scripts; a class Timer would hide Godot's).
GODOT_NAMES = frozenset(
    line.strip() for line in (Path(__file__).parent / "godot_names.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)
GD_TYPES = {
    F.TYPE_DOUBLE: ("float", "0.0"), F.TYPE_FLOAT: ("float", "0.0"),
    F.TYPE_BOOL: ("bool", "false"), F.TYPE_STRING: ("String", '""'),
    F.TYPE_BYTES: ("PackedByteArray", "PackedByteArray()"),
}
PACKABLE = frozenset(set(F.Type.values()) - {F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE,
                                              F.TYPE_GROUP})


@dataclass(frozen=True)
class Field:
    """One field of a message, with everything the emitters need."""

    proto: d.FieldDescriptorProto
    name: str  # the GDScript name
    doc: str
    type: str  # GDScript type of the field (Array[...] / Dictionary for repeated and maps)
    elem: str  # GDScript type of one value (the message class for messages)
    default: str
    kind: str  # Wire.Kind name; "" for messages
    oneof: str  # the oneof's name for oneof members ("" otherwise)
    optional: bool  # proto3 `optional`: present or not, like a oneof of one
    map_types: tuple[Field, Field] | None  # key and value of a map field

    @property
    def repeated(self) -> bool:
        return self.proto.label == F.LABEL_REPEATED and self.map_types is None

    @property
    def is_message(self) -> bool:
        return self.proto.type == F.TYPE_MESSAGE


class Generator:
    """Knows every type of a FileDescriptorSet; renders one GDScript file per .proto."""

    def __init__(self, files: list[d.FileDescriptorProto]) -> None:
        # ".npc.v1.SayRequest" -> (the .proto that defines it, GDScript class or enum name)
        self.types: dict[str, tuple[str, str]] = {}
        self.map_entries: dict[str, d.DescriptorProto] = {}  # protoc's MapEntry messages
        for file in files:
            prefix = f".{file.package}" if file.package else ""
            for enum in file.enum_type:
                self.types[f"{prefix}.{enum.name}"] = (file.name, _safe(enum.name))
            for message, (full, gd_name), _ in _walk(file.message_type, prefix):
                self.types[full] = (file.name, gd_name)
                if message.options.map_entry:
                    self.map_entries[full] = message
                for enum in message.enum_type:
                    self.types[f"{full}.{enum.name}"] = (file.name, _safe(gd_name + enum.name))
        # Per rendered file: its comments by source path, and the files it refers to.
        self.file = d.FileDescriptorProto()
        self.docs: dict[tuple[int, ...], str] = {}
        self.imports: set[str] = set()

    def render(self, file: d.FileDescriptorProto) -> str:
        self.file = file
        self.docs = {tuple(loc.path): _comment(loc) for loc in file.source_code_info.location}
        self.imports = set()
        prefix = f".{file.package}" if file.package else ""
        body: list[str] = []
        for index, enum in enumerate(file.enum_type):
            body += self._enum(enum, _safe(enum.name), (5, index))
        for message, (_, gd_name), path in _walk(file.message_type, prefix):
            for index, enum in enumerate(message.enum_type):
                body += self._enum(enum, _safe(gd_name + enum.name), (*path, 4, index))
        classes: list[str] = []
        for message, (_, gd_name), path in _walk(file.message_type, prefix):
            if not message.options.map_entry:
                classes += self._message(message, gd_name, path)
        # Classes render first (they collect imports), the header after.
        head = [
            f"# Generated from protos/{file.name} by scripts/clients/godot/gen_codec.py.",
            "# Do not edit: change the .proto and run the script (CI checks this file is fresh).",
            "# gdlint: disable=max-file-lines",
            f"## Messages and enums of [code]{file.package}[/code] ({Path(file.name).name}).",
            "extends RefCounted",
            "",
        ]
        consts = ['const Wire := preload("wire.gd")']
        consts += [f'const {_module(name)} := preload("{_module_file(name)}")'
                   for name in sorted(self.imports)]
        text = head + body + consts + ["", ""] + classes
        return "\n".join(text).rstrip("\n") + "\n"

    # --- enums -----------------------------------------------------------------

    def _enum(self, enum: d.EnumDescriptorProto, gd_name: str, path: tuple[int, ...]) -> list[str]:
        lines = _doc(self.docs.get(path, ""), "")
        lines.append(f"enum {gd_name} {{")
        for index, value in enumerate(enum.value):
            lines += _doc(self.docs.get((*path, 2, index), ""), "\t")
            lines.append(f"\t{value.name} = {value.number},")
        return [*lines, "}", ""]

    # --- messages --------------------------------------------------------------

    def _message(self, message: d.DescriptorProto, gd_name: str,
                 path: tuple[int, ...]) -> list[str]:
        fields = [self._field(f, message, (*path, 2, i)) for i, f in enumerate(message.field)]
        oneofs = [o.name for i, o in enumerate(message.oneof_decl)
                  if any(f.oneof == o.name and not f.optional for f in fields)]
        out = _doc(self.docs.get(path, ""), "")
        out += [f"class {gd_name}:", "\textends RefCounted", ""]
        for oneof in oneofs:
            members = ", ".join(f"&\"{f.name}\"" for f in fields if f.oneof == oneof)
            out += _doc(f"Which field of the `{oneof}` oneof is set ({members}), or &\"\" "
                        "for none.", "\t")
            out += [f'\tvar {oneof}_case: StringName = &""']
        for field in fields:
            out += self._declare(field)
        for oneof in oneofs:
            out += [f"\tvar _{oneof}: Variant = null"]
        out += [f"\tvar _{f.name}: Variant = null" for f in fields if f.optional]
        if fields:
            out.append("")
        out += self._presence(fields)
        out += self._encode(gd_name, fields)
        out += self._decode(gd_name, fields)
        out += self._to_dict(fields)
        return [*out, "", ""]

    def _field(self, proto: d.FieldDescriptorProto, message: d.DescriptorProto,
               path: tuple[int, ...]) -> Field:
        name = proto.name + "_" if proto.name in RESERVED else proto.name
        optional = proto.proto3_optional
        oneof = ""
        if proto.HasField("oneof_index"):
            oneof_name = message.oneof_decl[proto.oneof_index].name
            oneof = oneof_name if not optional else ""
        doc = self.docs.get(path, "")
        map_types = None
        if proto.type == F.TYPE_MESSAGE and proto.type_name in self.map_entries:
            entry = self.map_entries[proto.type_name]
            key, value = (self._field(f, entry, ()) for f in entry.field)
            if value.is_message:
                raise NotImplementedError(f"{proto.name}: map values that are messages")
            map_types = (key, value)
            gd_type, default = f"Dictionary[{key.elem}, {value.elem}]", "{}"
            elem = ""
        else:
            elem, default = self._scalar(proto)
            gd_type = elem
            if proto.label == F.LABEL_REPEATED:
                gd_type, default = f"Array[{elem}]", "[]"
        if proto.type == F.TYPE_ENUM:
            enum = self._type_ref(proto.type_name)
            doc = f"{doc}\nOne of [enum {enum}]." if doc else f"One of [enum {enum}]."
        kind = "" if proto.type == F.TYPE_MESSAGE else F.Type.Name(proto.type)[5:]
        return Field(proto, name, doc, gd_type, elem, default, kind, oneof, optional, map_types)

    def _scalar(self, proto: d.FieldDescriptorProto) -> tuple[str, str]:
        if proto.type == F.TYPE_MESSAGE:
            return self._type_ref(proto.type_name), "null"
        if proto.type == F.TYPE_GROUP:
            raise NotImplementedError(f"{proto.name}: groups are not proto3")
        return GD_TYPES.get(proto.type, ("int", "0"))

    def _type_ref(self, type_name: str) -> str:
        file, gd_name = self.types[type_name]
        if file == self.file.name:
            return gd_name
        self.imports.add(file)
        return f"{_module(file)}.{gd_name}"

    def _declare(self, field: Field) -> list[str]:
        lines = _doc(field.doc, "\t")
        if field.oneof or field.optional:
            # Presence is kept apart from the value: a oneof shares one slot between its
            # fields, an optional field is null until set.
            store = f"_{field.oneof or field.name}"
            if field.oneof:
                present = f'{field.oneof}_case == &"{field.name}"'
                setter = [f"\t\t\t{store} = value",
                          f'\t\t\t{field.oneof}_case = &"{field.name}"']
                if field.is_message:
                    setter[1] = f'\t\t\t{field.oneof}_case = &"{field.name}" if value else &""'
            else:
                present = f"{store} != null"
                setter = [f"\t\t\t{store} = value"]
            lines += [f"\tvar {field.name}: {field.type}:", "\t\tget:",
                      f"\t\t\treturn {store} if {present} else {field.default}",
                      "\t\tset(value):", *setter]
            return lines
        return [*lines, f"\tvar {field.name}: {field.type} = {field.default}"]

    def _presence(self, fields: list[Field]) -> list[str]:
        out: list[str] = []
        for field in fields:
            if field.oneof:
                check = f'{field.oneof}_case == &"{field.name}"'
                clear = [f'\t\tif {check}:', f"\t\t\t_{field.oneof} = null",
                         f'\t\t\t{field.oneof}_case = &""']
            elif field.optional:
                check = f"_{field.name} != null"
                clear = [f"\t\t_{field.name} = null"]
            else:
                continue
            out += [f"\tfunc has_{field.name}() -> bool:", f"\t\treturn {check}", "",
                    f"\tfunc clear_{field.name}() -> void:", *clear, ""]
        return out

    def _encode(self, gd_name: str, fields: list[Field]) -> list[str]:
        out = ["\t## The message in protobuf binary form.",
               "\tfunc encode() -> PackedByteArray:", "\t\tvar w := Wire.Writer.new()"]
        for field in fields:
            out += [f"\t\t{line}" for line in self._encode_field(field)]
        return [*out, "\t\treturn w.bytes", ""]

    def _encode_field(self, f: Field) -> list[str]:
        n, kind = f.proto.number, f"Wire.Kind.{f.kind}"
        if f.map_types:
            key, value = f.map_types
            return [f"for key: {key.elem} in {f.name}:",
                    f"\tw.map_entry({n}, Wire.Kind.{key.kind}, key, Wire.Kind.{value.kind}, "
                    f"{f.name}[key])"]
        if f.repeated and f.is_message:
            return [f"for item: {f.elem} in {f.name}:", f"\tw.message({n}, item.encode())"]
        if f.repeated and f.proto.type in PACKABLE:
            return [f"if not {f.name}.is_empty():", f"\tw.packed({n}, {kind}, {f.name})"]
        if f.repeated:
            return [f"for item: {f.elem} in {f.name}:", f"\tw.field({n}, {kind}, item)"]
        if f.is_message:
            return [f"if {f.name} != null:", f"\tw.message({n}, {f.name}.encode())"]
        if f.oneof or f.optional:
            return [f"if has_{f.name}():", f"\tw.field({n}, {kind}, {f.name})"]
        empty = f"not {f.name}.is_empty()" if f.kind == "BYTES" else f"{f.name} != {f.default}"
        return [f"if {empty}:", f"\tw.field({n}, {kind}, {f.name})"]

    def _decode(self, gd_name: str, fields: list[Field]) -> list[str]:
        out = [
            "\t## Decodes [param bytes]; null if they are not a valid message.",
            f"\tstatic func decode(bytes: PackedByteArray) -> {gd_name}:",
            f"\t\tvar message := {gd_name}.new()",
            "\t\treturn message if message.merge_from(Wire.Reader.new(bytes)) else null",
            "",
            "\t## Reads fields until the reader's end; false if the input was malformed.",
            "\t## Fields this version does not know are skipped.",
            "\tfunc merge_from(r: Wire.Reader) -> bool:",
            "\t\twhile not r.at_end():",
            "\t\t\tvar tag := r.tag()",
            "\t\t\tmatch tag:",
        ]
        for field in fields:
            for tag, body in self._decode_field(field):
                out += [f"\t\t\t\t{tag}:", *(f"\t\t\t\t\t{line}" for line in body)]
        out += ["\t\t\t\t_:", "\t\t\t\t\tr.skip(tag & 7)", "\t\treturn not r.failed", ""]
        return out

    def _decode_field(self, f: Field) -> list[tuple[int, list[str]]]:
        n, kind = f.proto.number, f"Wire.Kind.{f.kind}"
        length = n << 3 | 2
        if f.map_types:
            key, value = f.map_types
            return [(length, [
                f"var entry := r.read_map_entry(Wire.Kind.{key.kind}, Wire.Kind.{value.kind})",
                f"{f.name}[entry[0]] = entry[1]"])]
        if f.is_message:
            read = f"r.read_message({f.elem}.new())"
            return [(length, [f"{f.name}.append({read})" if f.repeated else f"{f.name} = {read}"])]
        tag = n << 3 | _wire_type(f.proto.type)
        if f.repeated and f.proto.type in PACKABLE:
            return [(length, [f"for item: {f.elem} in r.read_packed({kind}):",
                              f"\t{f.name}.append(item)"]),
                    (tag, [f"{f.name}.append(r.read({kind}))"])]
        if f.repeated:
            return [(tag, [f"{f.name}.append(r.read({kind}))"])]
        return [(tag, [f"{f.name} = r.read({kind})"])]

    def _to_dict(self, fields: list[Field]) -> list[str]:
        out = ["\t## The fields as a Dictionary (messages nested as Dictionaries), for logs and",
               "\t## tests. Unset messages, oneof fields and optional fields are left out.",
               "\tfunc to_dict() -> Dictionary:", "\t\tvar out := {}"]
        for f in fields:
            key = f'out["{f.proto.name}"]'
            if f.repeated and f.is_message:
                out += [f"\t\t{key} = Wire.to_dicts({f.name})"]
            elif f.repeated or f.map_types:
                out += [f"\t\t{key} = {f.name}.duplicate()"]
            elif f.is_message:
                out += [f"\t\tif {f.name} != null:", f"\t\t\t{key} = {f.name}.to_dict()"]
            elif f.oneof or f.optional:
                out += [f"\t\tif has_{f.name}():", f"\t\t\t{key} = {f.name}"]
            else:
                out += [f"\t\t{key} = {f.name}"]
        return [*out, "\t\treturn out", "", "\tfunc _to_string() -> String:",
                "\t\treturn str(to_dict())"]


def _walk(
    messages: Iterable[d.DescriptorProto], prefix: str, gd_prefix: str = "",
    path: tuple[int, ...] = (4,),
) -> Iterator[tuple[d.DescriptorProto, tuple[str, str], tuple[int, ...]]]:
    """Every message, nested ones too, with (full proto name, GDScript class name) and its
    source-info path. Nested names are flattened (Outer.Inner -> OuterInner): gdlint wants
    PascalCase class names."""
    for index, message in enumerate(messages):
        full, gd_name, here = f"{prefix}.{message.name}", gd_prefix + message.name, (*path, index)
        yield message, (full, _safe(gd_name)), here
        yield from _walk(message.nested_type, full, gd_name, (*here, 3))


def _safe(gd_name: str) -> str:
    return gd_name + "Proto" if gd_name in GODOT_NAMES else gd_name


def _wire_type(proto_type: int) -> int:
    if proto_type in (F.TYPE_DOUBLE, F.TYPE_FIXED64, F.TYPE_SFIXED64):
        return 1
    if proto_type in (F.TYPE_FLOAT, F.TYPE_FIXED32, F.TYPE_SFIXED32):
        return 5
    if proto_type in (F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE):
        return 2
    return 0


def _comment(location: d.SourceCodeInfo.Location) -> str:
    return textwrap.dedent(location.leading_comments).strip()


def _doc(text: str, indent: str) -> list[str]:
    """A ## doc comment, wrapped to gdlint's line length (tabs count as 4)."""
    if not text:
        return []
    width = LINE - 4 * len(indent) - 3
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width) or [""]
    return [f"{indent}## {line}".rstrip() for line in lines]


def _module(proto_file: str) -> str:
    return "".join(part.title() for part in Path(proto_file).stem.split("_")) + "Pb"


def _module_file(proto_file: str) -> str:
    return f"{Path(proto_file).stem}_pb.gd"


def load_descriptors(protos: Path) -> list[d.FileDescriptorProto]:
    """Parse every .proto under ``protos`` with grpc_tools' protoc, comments kept."""
    include = importlib.resources.files("grpc_tools") / "_proto"
    sources = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["protoc", f"-I{protos}", f"-I{include}", f"--descriptor_set_out={out}",
                "--include_source_info", *sources]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed on " + " ".join(sources))
        return list(d.FileDescriptorSet.FromString(out.read_bytes()).file)


def generate(protos: Path = PROTOS) -> dict[str, str]:
    """File name -> GDScript source, for every .proto under ``protos``."""
    files = load_descriptors(protos)
    gen = Generator(files)
    return {_module_file(f.name): gen.render(f) for f in files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed files differ")
    parser.add_argument("--protos", type=Path, default=PROTOS, help="where the .protos are")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    fresh = generate(args.protos)
    stale = [name for name, text in fresh.items()
             if not (args.out / name).exists() or (args.out / name).read_text() != text]
    orphans = sorted(p.name for p in args.out.glob("*_pb.gd") if p.name not in fresh)
    if args.check:
        for name in stale:
            old = (args.out / name).read_text().splitlines() if (args.out / name).exists() else []
            sys.stdout.writelines(
                line + "\n" for line in difflib.unified_diff(
                    old, fresh[name].splitlines(), f"committed/{name}", f"generated/{name}",
                    lineterm="", n=1))
        if stale or orphans:
            print(f"codec is stale ({', '.join(stale + orphans)}): "
                  "run python scripts/clients/godot/gen_codec.py and commit", file=sys.stderr)
            return 1
        print(f"codec up to date ({len(fresh)} files)")
        return 0
    for name in stale:
        (args.out / name).write_text(fresh[name])
    for name in orphans:
        (args.out / name).unlink()
    print(f"wrote {len(stale)} of {len(fresh)} files, removed {len(orphans)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
