//! Unit tests of the parse module: one small repository per language with its exact facts and
//! resolved edges, and bad input (binary, invalid UTF-8, huge, symlinked, deeply nested files).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tempfile::TempDir;

use super::*;

/// A repository in a temporary directory with these files.
fn repository(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// Parses the folder `root` as a commit of every file in it (ignored ones too, as
/// [`commit_directory`] commits them).
fn parse_folder(
    root: &Path,
    options: &ParseOptions,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<ParseOutput, ParseError> {
    let scratch = tempfile::tempdir().expect("temp dir");
    let repo = scratch.path().join("snapshot.git");
    commit_directory(root, &repo).expect("commit the folder");
    parse_repository(&repo, "HEAD", options, progress)
}

fn parse(root: &Path) -> ParseOutput {
    let options = ParseOptions {
        threads: 2,
        ..ParseOptions::default()
    };
    parse_folder(root, &options, |_, _| {}).expect("parse")
}

fn target(target: &Target) -> String {
    match target {
        Target::Internal(name) => name.clone(),
        Target::External(name) => format!("ext:{name}"),
    }
}

/// A target and how it was found: `pkg/a.py::f (Import)`, `ext:os (Unresolved)`.
fn resolved(found: &Target, via: Via) -> String {
    format!("{} ({via:?})", target(found))
}

/// `{prefix}{value}{suffix}` for a value, nothing without one.
fn optional(value: Option<&str>, prefix: &str, suffix: &str) -> String {
    value
        .map(|value| format!("{prefix}{value}{suffix}"))
        .unwrap_or_default()
}

fn definitions(output: &ParseOutput) -> Vec<String> {
    let line = |d: &Definition| {
        let owner = optional(d.owner.as_deref(), " of ", "");
        let (q, start, end) = (&d.qualified_name, d.start_line, d.end_line);
        format!("{:?} {q} {start}-{end}{owner}", d.kind)
    };
    output
        .files
        .iter()
        .flat_map(|f| &f.definitions)
        .map(line)
        .collect()
}

fn imports(output: &ParseOutput) -> Vec<String> {
    let line = |i: &ImportEdge| {
        let name = optional(i.name.as_deref(), " [", "]");
        let found = resolved(&i.target, i.via);
        format!("{}:{} {}{name} -> {found}", i.file, i.line, i.module)
    };
    output.imports.iter().map(line).collect()
}

fn calls(output: &ParseOutput) -> Vec<String> {
    let line = |c: &CallEdge| {
        format!(
            "{}:{} {}{} -> {}",
            c.caller,
            c.line,
            optional(c.receiver.as_deref(), "", "."),
            c.callee,
            resolved(&c.target, c.via)
        )
    };
    output.calls.iter().map(line).collect()
}

fn inherits(output: &ParseOutput) -> Vec<String> {
    let line = |i: &InheritEdge| {
        let found = resolved(&i.target, i.via);
        format!("{} {:?} {} -> {found}", i.child, i.kind, i.parent)
    };
    output.inherits.iter().map(line).collect()
}

/// The graph a repository should give, one line per fact as the functions above write them.
struct Graph {
    definitions: &'static [&'static str],
    imports: &'static [&'static str],
    calls: &'static [&'static str],
    inherits: &'static [&'static str],
}

/// Parses a repository of these files and compares its graph with `expected`.
fn check_graph(files: &[(&str, &str)], expected: Graph) {
    let dir = repository(files);
    let output = parse(dir.path());
    assert_eq!(definitions(&output), expected.definitions);
    assert_eq!(imports(&output), expected.imports);
    assert_eq!(calls(&output), expected.calls);
    assert_eq!(inherits(&output), expected.inherits);
}

#[test]
fn every_query_compiles() {
    for spec in &language::SPECS {
        let compiled = spec.query().expect("query compiles");
        assert!(
            compiled.roots.is_some(),
            "{:?}: the extractor finds where each pattern starts",
            spec.language
        );
    }
}

const PYTHON: &[(&str, &str)] = &[
    ("pkg/__init__.py", ""),
    (
        "pkg/base.py",
        r#"import os
from typing import List as L


class Base:
    def greet(self):
        return helper()


def helper():
    return os.path.join("a", "b")
"#,
    ),
    (
        "pkg/app.py",
        r#"from pkg.base import Base, helper
from . import base as b


class App(Base):
    class Config:
        def load(self):
            return read()

    def run(self):
        self.greet()
        helper()
        b.helper()


def read():
    def inner():
        return 1
    return inner()


App().run()
"#,
    ),
];

const RUST: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        r#"mod store;
use crate::store::Store;
use std::fmt;

pub trait Named: fmt::Debug {
    fn name(&self) -> String;
}

pub fn open() -> Store {
    let store = Store::new();
    store.get(1);
    helper()
}

fn helper() -> Store {
    Store::new()
}

mod inner {
    pub struct Inner;
    impl Inner {
        pub fn make() -> Self {
            Inner
        }
    }
}
"#,
    ),
    (
        "src/store.rs",
        r#"use std::collections::HashMap;

#[derive(Debug)]
pub struct Store {
    items: HashMap<u32, String>,
}

pub enum Kind {
    A,
}

impl Store {
    pub fn new() -> Self {
        Store { items: HashMap::new() }
    }

    pub fn get(&self, id: u32) -> Option<&String> {
        self.lookup(id)
    }

    fn lookup(&self, id: u32) -> Option<&String> {
        self.items.get(&id)
    }
}

impl crate::Named for Store {
    fn name(&self) -> String {
        String::from("store")
    }
}
"#,
    ),
];

const GO: &[(&str, &str)] = &[
    ("go.mod", "module example.com/shop\n"),
    (
        "server/server.go",
        r#"package server

import (
	"fmt"
	u "example.com/shop/util"
)

type Handler interface {
	Handle() error
}

type Server struct {
	Base
	*Logger
	name string
}

func New(name string) *Server {
	return &Server{name: name}
}

func (s *Server) Start() error {
	s.log("start")
	fmt.Println(u.Clean(s.name))
	return nil
}
"#,
    ),
    (
        "server/log.go",
        r#"package server

type Base struct{}

type Logger struct{}

func (s *Server) log(msg string) {
	helper(msg)
}

func helper(msg string) {}
"#,
    ),
    (
        "util/util.go",
        r#"package util

import "strings"

func Clean(s string) string {
	return strings.TrimSpace(s)
}
"#,
    ),
];

const JAVASCRIPT: &[(&str, &str)] = &[
    (
        "src/util.js",
        r#"export function helper(x) {
  return x + 1;
}

export const twice = (x) => helper(helper(x));

export class Base {
  greet() {
    return helper(1);
  }
}
"#,
    ),
    (
        "src/app.jsx",
        r#"import { helper, Base as B } from "./util";
import * as util from "./util.js";
const path = require("path");

class App extends B {
  constructor() {
    super();
    this.name = "app";
  }

  run() {
    this.greet();
    util.twice(2);
    return path.join("a", helper(3));
  }
}

function main() {
  const app = new App();
  app.run();
}

main();
"#,
    ),
];

const TYPESCRIPT: &[(&str, &str)] = &[
    (
        "src/shapes.ts",
        r#"export interface Shape {
  area(): number;
}

export abstract class Base implements Shape {
  abstract area(): number;
  describe(): string {
    return format(this.area());
  }
}

export function format(n: number): string {
  return n.toFixed(2);
}

export enum Color {
  Red,
}
"#,
    ),
    (
        "src/circle.ts",
        r#"import { Base, Shape } from "./shapes";

namespace geometry {
  export class Circle extends Base implements Shape {
    constructor(private r: number) {
      super();
    }
    area(): number {
      return Math.PI * this.r * this.r;
    }
  }
}

export const make = (r: number) => new geometry.Circle(r);
"#,
    ),
    (
        "src/view.tsx",
        r#"import { make } from "./circle";

export function View(props: { r: number }) {
  const c = make(props.r);
  return <div>{c.describe()}</div>;
}
"#,
    ),
];

const JAVA: &[(&str, &str)] = &[
    (
        "src/main/java/com/shop/Animal.java",
        r#"package com.shop;

public abstract class Animal implements Comparable<Animal> {
    public abstract String sound();

    public String speak() {
        return format(sound());
    }

    static String format(String s) {
        return s.trim();
    }

    public static class Tag {
        String label() { return "tag"; }
    }
}
"#,
    ),
    (
        "src/main/java/com/shop/pets/Dog.java",
        r#"package com.shop.pets;

import com.shop.Animal;
import java.util.List;

public class Dog extends Animal {
    public Dog() {
        super();
    }

    @Override
    public String sound() {
        return "woof";
    }

    public static void main(String[] args) {
        Dog d = new Dog();
        System.out.println(d.speak());
        List<String> names = List.of(Animal.format(" x "));
    }
}

interface Walker extends Runnable {
    void walk();
}

enum Size { SMALL, LARGE }
"#,
    ),
];

#[test]
fn python_repository() {
    check_graph(
        PYTHON,
        Graph {
            definitions: &[
                "Class pkg/app.py::App 5-13",
                "Class pkg/app.py::App.Config 6-8 of pkg/app.py::App",
                "Method pkg/app.py::App.Config.load 7-8 of pkg/app.py::App.Config",
                "Method pkg/app.py::App.run 10-13 of pkg/app.py::App",
                "Function pkg/app.py::read 16-19",
                "Function pkg/app.py::read.inner 17-18",
                "Class pkg/base.py::Base 5-7",
                "Method pkg/base.py::Base.greet 6-7 of pkg/base.py::Base",
                "Function pkg/base.py::helper 10-11",
            ],
            imports: &[
                "pkg/app.py:1 pkg.base [Base] -> pkg/base.py::Base (Import)",
                "pkg/app.py:1 pkg.base [helper] -> pkg/base.py::helper (Import)",
                "pkg/app.py:2 . [base] -> pkg/base.py (ModulePath)",
                "pkg/base.py:1 os -> ext:os (Unresolved)",
                "pkg/base.py:2 typing [List] -> ext:typing.List (Unresolved)",
            ],
            calls: &[
                "pkg/app.py::App.Config.load:8 read -> pkg/app.py::read (SameFile)",
                // Inherited: App has no `greet`, its base Base (imported from another file) has.
                "pkg/app.py::App.run:11 self.greet -> pkg/base.py::Base.greet (Owner)",
                "pkg/app.py::App.run:12 helper -> pkg/base.py::helper (Import)",
                "pkg/app.py::App.run:13 b.helper -> pkg/base.py::helper (Import)",
                "pkg/app.py::read:19 inner -> pkg/app.py::read.inner (SameFile)",
                "pkg/app.py:22 App().run -> pkg/app.py::App.run (Owner)",
                "pkg/app.py:22 App -> pkg/app.py::App (SameFile)",
                "pkg/base.py::Base.greet:7 helper -> pkg/base.py::helper (SameFile)",
                "pkg/base.py::helper:11 os.path.join -> ext:os.path.join (Unresolved)",
            ],
            inherits: &["pkg/app.py::App Extends Base -> pkg/base.py::Base (Import)"],
        },
    );
}

#[test]
fn rust_repository() {
    check_graph(
        RUST,
        Graph {
            definitions: &[
                "Trait src/lib.rs::Named 5-7",
                "Method src/lib.rs::Named.name 6-6 of src/lib.rs::Named",
                "Function src/lib.rs::open 9-13",
                "Function src/lib.rs::helper 15-17",
                "Struct src/lib.rs::inner.Inner 20-20",
                "Method src/lib.rs::inner.Inner.make 22-24 of src/lib.rs::inner.Inner",
                "Struct src/store.rs::Store 4-6",
                "Enum src/store.rs::Kind 8-10",
                "Method src/store.rs::Store.new 13-15 of src/store.rs::Store",
                "Method src/store.rs::Store.get 17-19 of src/store.rs::Store",
                "Method src/store.rs::Store.lookup 21-23 of src/store.rs::Store",
                "Method src/store.rs::Store.name 27-29 of src/store.rs::Store",
            ],
            imports: &[
                "src/lib.rs:2 crate::store [Store] -> src/store.rs::Store (Import)",
                "src/lib.rs:3 std [fmt] -> ext:std::fmt (Unresolved)",
                "src/store.rs:1 std::collections [HashMap] -> ext:std::collections::HashMap (Unresolved)",
            ],
            calls: &[
                "src/lib.rs::open:10 Store.new -> src/store.rs::Store.new (Import)",
                "src/lib.rs::open:11 store.get -> src/store.rs::Store.get (UniqueName)",
                "src/lib.rs::open:12 helper -> src/lib.rs::helper (SameFile)",
                "src/lib.rs::helper:16 Store.new -> src/store.rs::Store.new (Import)",
                "src/store.rs::Store.new:14 HashMap.new -> ext:std::collections::HashMap::new (Unresolved)",
                "src/store.rs::Store.get:18 self.lookup -> src/store.rs::Store.lookup (Owner)",
                // A guess, and a wrong one: `items` is a HashMap, but `get` is the only method of that
                // name in the repository. `Via::UniqueName` lets a consumer drop such links.
                "src/store.rs::Store.lookup:22 self.items.get -> src/store.rs::Store.get (UniqueName)",
                "src/store.rs::Store.name:28 String.from -> ext:String::from (Unresolved)",
            ],
            inherits: &[
                "src/lib.rs::Named Extends fmt::Debug -> ext:std::fmt::Debug (Unresolved)",
                // `impl crate::Named for Store`: the child is the struct, defined in this file.
                "src/store.rs::Store Implements crate::Named -> src/lib.rs::Named (UniqueName)",
            ],
        },
    );
}

#[test]
fn go_repository() {
    check_graph(
        GO,
        Graph {
            definitions: &[
                "Struct server/log.go::Base 3-3",
                "Struct server/log.go::Logger 5-5",
                // A method declared in another file than its type: the owner is the type's definition.
                "Method server/log.go::Server.log 7-9 of server/server.go::Server",
                "Function server/log.go::helper 11-11",
                "Interface server/server.go::Handler 8-10",
                "Struct server/server.go::Server 12-16",
                "Function server/server.go::New 18-20",
                "Method server/server.go::Server.Start 22-26 of server/server.go::Server",
                "Function util/util.go::Clean 5-7",
            ],
            imports: &[
                "server/server.go:4 fmt -> ext:fmt (Unresolved)",
                "server/server.go:5 example.com/shop/util -> util (ModulePath)",
                "util/util.go:3 strings -> ext:strings (Unresolved)",
            ],
            calls: &[
                "server/log.go::Server.log:8 helper -> server/log.go::helper (SameFile)",
                // `s` is the receiver of Start; `log` is a method of Server declared in another file.
                "server/server.go::Server.Start:23 s.log -> server/log.go::Server.log (Owner)",
                "server/server.go::Server.Start:24 fmt.Println -> ext:fmt.Println (Unresolved)",
                "server/server.go::Server.Start:24 u.Clean -> util/util.go::Clean (Import)",
                "util/util.go::Clean:6 strings.TrimSpace -> ext:strings.TrimSpace (Unresolved)",
            ],
            inherits: &[
                "server/server.go::Server Extends Base -> server/log.go::Base (Package)",
                "server/server.go::Server Extends Logger -> server/log.go::Logger (Package)",
            ],
        },
    );
}

#[test]
fn javascript_repository() {
    check_graph(
        JAVASCRIPT,
        Graph {
            definitions: &[
                "Class src/app.jsx::App 5-16",
                "Method src/app.jsx::App.constructor 6-9 of src/app.jsx::App",
                "Method src/app.jsx::App.run 11-15 of src/app.jsx::App",
                "Function src/app.jsx::main 18-21",
                "Function src/util.js::helper 1-3",
                "Function src/util.js::twice 5-5",
                "Class src/util.js::Base 7-11",
                "Method src/util.js::Base.greet 8-10 of src/util.js::Base",
            ],
            imports: &[
                "src/app.jsx:1 ./util [helper] -> src/util.js::helper (Import)",
                "src/app.jsx:1 ./util [Base] -> src/util.js::Base (Import)",
                "src/app.jsx:2 ./util.js -> src/util.js (ModulePath)",
                "src/app.jsx:3 path -> ext:path (Unresolved)",
            ],
            calls: &[
                "src/app.jsx::App.run:12 this.greet -> src/util.js::Base.greet (Owner)",
                "src/app.jsx::App.run:13 util.twice -> src/util.js::twice (Import)",
                "src/app.jsx::App.run:14 path.join -> ext:path.join (Unresolved)",
                "src/app.jsx::App.run:14 helper -> src/util.js::helper (Import)",
                "src/app.jsx::main:19 App -> src/app.jsx::App (SameFile)",
                "src/app.jsx::main:20 app.run -> src/app.jsx::App.run (UniqueName)",
                "src/app.jsx:23 main -> src/app.jsx::main (SameFile)",
                "src/util.js::twice:5 helper -> src/util.js::helper (SameFile)",
                "src/util.js::twice:5 helper -> src/util.js::helper (SameFile)",
                "src/util.js::Base.greet:9 helper -> src/util.js::helper (SameFile)",
            ],
            inherits: &["src/app.jsx::App Extends B -> src/util.js::Base (Import)"],
        },
    );
}

#[test]
fn typescript_repository() {
    check_graph(
        TYPESCRIPT,
        Graph {
            definitions: &[
                "Class src/circle.ts::geometry.Circle 4-11",
                "Method src/circle.ts::geometry.Circle.constructor 5-7 of src/circle.ts::geometry.Circle",
                "Method src/circle.ts::geometry.Circle.area 8-10 of src/circle.ts::geometry.Circle",
                "Function src/circle.ts::make 14-14",
                "Interface src/shapes.ts::Shape 1-3",
                "Method src/shapes.ts::Shape.area 2-2 of src/shapes.ts::Shape",
                "Class src/shapes.ts::Base 5-10",
                "Method src/shapes.ts::Base.area 6-6 of src/shapes.ts::Base",
                "Method src/shapes.ts::Base.describe 7-9 of src/shapes.ts::Base",
                "Function src/shapes.ts::format 12-14",
                "Enum src/shapes.ts::Color 16-18",
                "Function src/view.tsx::View 3-6",
            ],
            imports: &[
                "src/circle.ts:1 ./shapes [Base] -> src/shapes.ts::Base (Import)",
                "src/circle.ts:1 ./shapes [Shape] -> src/shapes.ts::Shape (Import)",
                "src/view.tsx:1 ./circle [make] -> src/circle.ts::make (Import)",
            ],
            calls: &[
                // `new` expressions are calls of the class.
                "src/circle.ts::make:14 geometry.Circle -> src/circle.ts::geometry.Circle (SameFile)",
                "src/shapes.ts::Base.describe:8 format -> src/shapes.ts::format (SameFile)",
                "src/shapes.ts::Base.describe:8 this.area -> src/shapes.ts::Base.area (Owner)",
                "src/shapes.ts::format:13 n.toFixed -> ext:toFixed (Unresolved)",
                "src/view.tsx::View:4 make -> src/circle.ts::make (Import)",
                "src/view.tsx::View:5 c.describe -> src/shapes.ts::Base.describe (UniqueName)",
            ],
            inherits: &[
                "src/circle.ts::geometry.Circle Extends Base -> src/shapes.ts::Base (Import)",
                "src/circle.ts::geometry.Circle Implements Shape -> src/shapes.ts::Shape (Import)",
                "src/shapes.ts::Base Implements Shape -> src/shapes.ts::Shape (SameFile)",
            ],
        },
    );
}

#[test]
fn java_repository() {
    check_graph(
        JAVA,
        Graph {
            definitions: &[
                "Class src/main/java/com/shop/Animal.java::Animal 3-17",
                "Method src/main/java/com/shop/Animal.java::Animal.sound 4-4 of src/main/java/com/shop/Animal.java::Animal",
                "Method src/main/java/com/shop/Animal.java::Animal.speak 6-8 of src/main/java/com/shop/Animal.java::Animal",
                "Method src/main/java/com/shop/Animal.java::Animal.format 10-12 of src/main/java/com/shop/Animal.java::Animal",
                "Class src/main/java/com/shop/Animal.java::Animal.Tag 14-16 of src/main/java/com/shop/Animal.java::Animal",
                "Method src/main/java/com/shop/Animal.java::Animal.Tag.label 15-15 of src/main/java/com/shop/Animal.java::Animal.Tag",
                "Class src/main/java/com/shop/pets/Dog.java::Dog 6-21",
                "Method src/main/java/com/shop/pets/Dog.java::Dog.Dog 7-9 of src/main/java/com/shop/pets/Dog.java::Dog",
                "Method src/main/java/com/shop/pets/Dog.java::Dog.sound 11-14 of src/main/java/com/shop/pets/Dog.java::Dog",
                "Method src/main/java/com/shop/pets/Dog.java::Dog.main 16-20 of src/main/java/com/shop/pets/Dog.java::Dog",
                "Interface src/main/java/com/shop/pets/Dog.java::Walker 23-25",
                "Method src/main/java/com/shop/pets/Dog.java::Walker.walk 24-24 of src/main/java/com/shop/pets/Dog.java::Walker",
                "Enum src/main/java/com/shop/pets/Dog.java::Size 27-27",
            ],
            imports: &[
                "src/main/java/com/shop/pets/Dog.java:3 com.shop [Animal] -> src/main/java/com/shop/Animal.java::Animal (Import)",
                "src/main/java/com/shop/pets/Dog.java:4 java.util [List] -> ext:java.util.List (Unresolved)",
            ],
            calls: &[
                // Java's implicit `this`: a bare call may name a method of the enclosing class.
                "src/main/java/com/shop/Animal.java::Animal.speak:7 format -> src/main/java/com/shop/Animal.java::Animal.format (Owner)",
                "src/main/java/com/shop/Animal.java::Animal.speak:7 sound -> src/main/java/com/shop/Animal.java::Animal.sound (Owner)",
                "src/main/java/com/shop/Animal.java::Animal.format:11 s.trim -> ext:trim (Unresolved)",
                "src/main/java/com/shop/pets/Dog.java::Dog.main:17 Dog -> src/main/java/com/shop/pets/Dog.java::Dog (SameFile)",
                "src/main/java/com/shop/pets/Dog.java::Dog.main:18 System.out.println -> ext:System.out.println (Unresolved)",
                "src/main/java/com/shop/pets/Dog.java::Dog.main:18 d.speak -> src/main/java/com/shop/Animal.java::Animal.speak (UniqueName)",
                "src/main/java/com/shop/pets/Dog.java::Dog.main:19 List.of -> ext:java.util.List.of (Unresolved)",
                "src/main/java/com/shop/pets/Dog.java::Dog.main:19 Animal.format -> src/main/java/com/shop/Animal.java::Animal.format (Import)",
            ],
            inherits: &[
                "src/main/java/com/shop/Animal.java::Animal Implements Comparable<Animal> -> ext:Comparable (Unresolved)",
                "src/main/java/com/shop/pets/Dog.java::Dog Extends Animal -> src/main/java/com/shop/Animal.java::Animal (Import)",
                "src/main/java/com/shop/pets/Dog.java::Walker Extends Runnable -> ext:Runnable (Unresolved)",
            ],
        },
    );
}

/// Running the query engine only where patterns start gives the facts a whole-tree run gives:
/// on every fixture file, each also cut short at many places (so that the trees hold `ERROR`
/// nodes), and in JSX and TSX.
#[test]
fn matching_at_roots_equals_whole_tree() {
    let extra: &[(&str, &str)] = &[
        (
            "m.py",
            "from __future__ import annotations\nimport a.b as c, d\nfrom .. import x\nfrom m import *\nfrom .p.q import (r as s,\n    t)\nclass A(B, m.C):\n  def f(self): self.g(h(i(j())))\n",
        ),
        (
            "u.rs",
            "use a;\nuse a::b::C;\nuse a::b::C as D;\nuse a::*;\nuse a::{B, c::D, E as F, *, self};\nimpl<T> X<T> { fn f(&self) { self.g::<u8>(); h::i(); } }\nimpl T for &Y {}\n",
        ),
        (
            "c.jsx",
            "const R = require('r');\nclass A extends mixin(B) { m() { return <div onClick={() => f()} /> } }\nexport * from './x';\n",
        ),
        (
            "c.tsx",
            "import x = require('y');\nnamespace N.M { export class C extends mixin(D) implements E<F> {} }\nconst f = (a: T) => <T,>(b: T) => g(b);\n",
        ),
    ];
    let mut extractor = Extractor::new();
    let mut compared = 0;
    let mut languages = std::collections::BTreeSet::new();
    for (path, text) in [PYTHON, RUST, GO, JAVASCRIPT, TYPESCRIPT, JAVA, extra].concat() {
        // Fixtures of no language (`go.mod`) are not parsed.
        let Some(spec) = LanguageSpec::for_path(path) else {
            continue;
        };
        languages.insert(spec.language);
        // The whole text; cut short every 7 bytes; with 3 bytes left out every 7 bytes (an
        // `ERROR` node in the middle, with complete nodes below it).
        let boundaries = || {
            (0..text.len())
                .step_by(7)
                .filter(|&at| text.is_char_boundary(at))
        };
        let cuts = boundaries().map(|cut| (format!("cut at {cut}"), text[..cut].to_owned()));
        let holes = boundaries()
            .filter(|&at| text.is_char_boundary(at + 3))
            .map(|at| {
                let hole = format!("{}{}", &text[..at], &text[at + 3..]);
                (format!("3 bytes left out at {at}"), hole)
            });
        let variants = cuts
            .chain(holes)
            .chain([("whole".to_owned(), text.to_owned())]);
        for (variant, text) in variants {
            let mut run = |matching| {
                extractor
                    .extract_with(spec, path, &text, &Limits::default(), matching)
                    .expect("extracts")
            };
            let at_roots = run(extractor::Matching::AtRoots);
            let whole_tree = run(extractor::Matching::WholeTree);
            assert_eq!(at_roots, whole_tree, "{path} {variant}:\n{text}");
            compared += 1;
        }
    }
    assert!(compared > 500, "{compared} texts compared");
    assert_eq!(languages.len(), language::SPECS.len(), "{languages:?}");
}

/// The imports of one file as written: module, names with aliases, module alias, line.
fn raw_imports(facts: &FileFacts) -> Vec<String> {
    facts
        .imports
        .iter()
        .map(|i| {
            let names: Vec<String> = i
                .names
                .iter()
                .map(|n| match &n.alias {
                    Some(alias) => format!("{} as {alias}", n.name),
                    None => n.name.clone(),
                })
                .collect();
            let alias = i
                .alias
                .as_deref()
                .map(|a| format!(" as {a}"))
                .unwrap_or_default();
            format!("{}:{}{alias} [{}]", i.line, i.module, names.join(", "))
        })
        .collect()
}

fn source(path: &str, text: &str) -> FileFacts {
    parse_source(path, text).expect("parses")
}

#[test]
fn python_import_forms() {
    let facts = source(
        "m.py",
        "from __future__ import annotations\nimport a.b as c, d\nfrom .. import x\nfrom m import *\nfrom .p.q import (r as s,\n    t)\n",
    );
    assert_eq!(
        raw_imports(&facts),
        [
            "1:__future__ [annotations]",
            "2:a.b as c []",
            "2:d []",
            "3:.. [x]",
            "4:m [*]",
            "5:.p.q [r as s, t]",
        ]
    );
}

#[test]
fn rust_use_forms() {
    let facts = source(
        "src/m.rs",
        "use a::{b, c::D, e as f, *};\nuse g::*;\nuse h::I as J;\nuse k;\nuse l as m;\n",
    );
    assert_eq!(
        raw_imports(&facts),
        [
            "1:a [b, c::D, e as f, *]",
            "2:g [*]",
            "3:h [I as J]",
            "4:k []",
            "5:l as m []"
        ]
    );
}

#[test]
fn javascript_import_forms() {
    let facts = source(
        "src/m.mjs",
        "import d, { a as b, c } from \"m\";\nexport { x } from \"./y\";\nexport * from \"./z\";\nconst r = require(\"r\");\nrequire(\"side\");\nimport \"./style.css\";\n",
    );
    assert_eq!(
        raw_imports(&facts),
        [
            "1:m as d [a as b, c]",
            "2:./y [x]",
            "3:./z [*]",
            "4:r as r []",
            "5:side []",
            "6:./style.css []",
        ]
    );
    assert!(facts.calls.is_empty(), "require is an import, not a call");
}

#[test]
fn go_import_forms_duplicate_names_and_receivers() {
    let facts = source(
        "main.go",
        "package main\n\nimport (\n\t_ \"embed\"\n\traw `example.com/raw`\n)\n\nfunc init() {}\n\nfunc init() {}\n\ntype T struct{}\n\nfunc (t T) A() { t.B() }\n\nfunc (T) B() {}\n",
    );
    assert_eq!(
        raw_imports(&facts),
        ["4:embed []", "5:example.com/raw as raw []"]
    );
    let names: Vec<&str> = facts
        .definitions
        .iter()
        .map(|d| d.qualified_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "main.go::init",
            "main.go::init#2",
            "main.go::T",
            "main.go::T.A",
            "main.go::T.B"
        ]
    );
    assert_eq!(facts.calls.len(), 1);
    assert!(facts.calls[0].receiver_is_self, "t is the receiver of A");
}

#[test]
fn receiver_is_self_for_self_words() {
    let facts = source(
        "a.py",
        "class A:\n    def f(self):\n        self.g()\n        other.g()\n    @classmethod\n    def h(cls):\n        cls.f(None)\n",
    );
    let flags: Vec<(&str, bool)> = facts
        .calls
        .iter()
        .map(|c| (c.receiver.as_deref().unwrap_or(""), c.receiver_is_self))
        .collect();
    assert_eq!(flags, [("self", true), ("other", false), ("cls", true)]);
}

#[test]
fn languages_by_extension() {
    let language = |path| LanguageSpec::for_path(path).map(|spec| spec.language);
    assert_eq!(language("a/b.py"), Some(Language::Python));
    assert_eq!(language("b.PYI"), Some(Language::Python));
    assert_eq!(language("lib.rs"), Some(Language::Rust));
    assert_eq!(language("x.go"), Some(Language::Go));
    for js in ["a.js", "a.mjs", "a.cjs", "a.jsx"] {
        assert_eq!(language(js), Some(Language::JavaScript), "{js}");
    }
    assert_eq!(language("a.ts"), Some(Language::TypeScript));
    assert_eq!(language("a.tsx"), Some(Language::Tsx));
    assert_eq!(language("A.java"), Some(Language::Java));
    assert_eq!(language("README.md"), None);
    assert_eq!(language("Makefile"), None);
    assert!(matches!(
        parse_source("notes.txt", "hi"),
        Err(ParseError::UnknownLanguage(_))
    ));
}

#[test]
fn language_statistics() {
    let dir = repository(&[
        ("a.py", "x = 1\ny = 2\n"),
        ("b.py", "z = 3"),
        ("c.go", "package c\n"),
    ]);
    let output = parse(dir.path());
    assert_eq!(
        output.languages[&Language::Python],
        LanguageStats {
            files: 2,
            lines: 3,
            bytes: 17
        }
    );
    assert_eq!(
        output.languages[&Language::Go],
        LanguageStats {
            files: 1,
            lines: 1,
            bytes: 10
        }
    );
}

#[test]
fn empty_repository_gives_empty_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut calls = Vec::new();
    let progress = std::sync::Mutex::new(&mut calls);
    let output = parse_folder(dir.path(), &ParseOptions::default(), |done, total| {
        progress.lock().expect("lock").push((done, total));
    })
    .expect("parse");
    assert_eq!(output, ParseOutput::default());
    assert_eq!(calls, [(0, 0)]);
}

#[test]
fn a_missing_repository_or_commit_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope");
    assert!(matches!(
        parse_repository(&missing, "HEAD", &ParseOptions::default(), |_, _| {}),
        Err(ParseError::Repository { .. })
    ));
    let files = repository(&[("a.py", "x = 1\n")]);
    let repo = dir.path().join("snapshot.git");
    commit_directory(files.path(), &repo).expect("commit");
    let unknown = "0123456789012345678901234567890123456789";
    assert!(matches!(
        parse_repository(&repo, unknown, &ParseOptions::default(), |_, _| {}),
        Err(ParseError::Revision { .. })
    ));
}

#[test]
fn progress_counts_every_file() {
    let files: Vec<(String, String)> = (0..20)
        .map(|i| (format!("m{i}.py"), format!("def f{i}():\n    pass\n")))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let dir = repository(&borrowed);
    let seen = std::sync::Mutex::new(Vec::new());
    let output = parse_folder(dir.path(), &ParseOptions::default(), |done, total| {
        seen.lock().expect("lock").push((done, total));
    })
    .expect("parse");
    assert_eq!(output.files.len(), 20);
    let mut seen = seen.into_inner().expect("lock");
    seen.sort();
    let expected: Vec<(usize, usize)> = (0..=20).map(|done| (done, 20)).collect();
    assert_eq!(seen, expected);
}

#[test]
fn bad_input_is_skipped_with_a_counted_reason() {
    let dir = repository(&[
        ("ok.py", "def ok():\n    pass\n"),
        ("gen.py", "# @generated by a tool\nx = 1\n"),
        ("api.pb.go", "package api\n"),
        ("web/app.min.js", "var a=1;"),
        ("node_modules/lib/index.js", "module.exports = 1;\n"),
        ("vendor/dep/dep.go", "package dep\n"),
        ("README.md", "# readme\n"),
        ("ignored.py", "x = 1\n"),
        (".gitignore", "ignored.py\n"),
    ]);
    let root = dir.path();
    std::fs::write(root.join("binary.py"), b"x = 1\n\0\x01\x02").expect("write");
    std::fs::write(root.join("latin1.py"), b"name = '\xe9t\xe9'\n").expect("write");
    // Over the 1 MiB limit: its size comes from the object header, its blob is never read.
    let huge = std::fs::File::create(root.join("huge.py")).expect("create");
    huge.set_len(2 * 1024 * 1024).expect("set_len");
    // Symbolic links out of the repository, to a file and to a directory: never followed.
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        outside.path().join("secret.py"),
        "def secret():\n    pass\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(outside.path().join("secret.py"), root.join("link.py"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), root.join("linked_dir")).expect("symlink");

    let output = parse(root);
    let parsed: Vec<&str> = output.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(parsed, ["ok.py"]);
    assert_skipped(
        &output,
        &[
            ("api.pb.go", SkipReason::Generated),
            ("binary.py", SkipReason::Binary),
            ("gen.py", SkipReason::Generated),
            ("huge.py", SkipReason::Oversized),
            ("latin1.py", SkipReason::InvalidUtf8),
            ("link.py", SkipReason::Symlink),
            ("linked_dir", SkipReason::Symlink),
            ("node_modules", SkipReason::Vendored),
            ("vendor", SkipReason::Vendored),
            ("web/app.min.js", SkipReason::Generated),
        ],
        &[
            (SkipReason::UnknownLanguage, 2),
            (SkipReason::Binary, 1),
            (SkipReason::Oversized, 1),
            (SkipReason::Vendored, 2),
            (SkipReason::Generated, 3),
            (SkipReason::InvalidUtf8, 1),
            (SkipReason::Symlink, 2),
        ],
    );
    assert!(
        !output
            .files
            .iter()
            .any(|f| f.definitions.iter().any(|d| d.name == "secret")),
        "nothing outside the root is read"
    );
}

/// A tree built entry by entry, as no checkout could hold it: a submodule, a link to a folder,
/// a file name that is not UTF-8, ignore files at several levels.
#[test]
fn a_tree_is_walked_with_the_rules_of_its_checkout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init_bare(dir.path()).expect("init");
    let blob = |text: &str| repo.blob(text.as_bytes()).expect("blob");
    let tree = |entries: &[(&[u8], git2::Oid, i32)]| {
        let mut builder = repo.treebuilder(None).expect("builder");
        for (name, id, mode) in entries {
            builder.insert(name.to_vec(), *id, *mode).expect("insert");
        }
        builder.write().expect("tree")
    };
    let code = blob("def f():\n    pass\n");
    let some_commit = git2::Oid::from_str("1234567890123456789012345678901234567890").expect("id");
    let sub = tree(&[
        (
            b".gitignore",
            blob("!keep.py\n!other.py\nlocal.py\n"),
            0o100644,
        ),
        (b"keep.py", code, 0o100644),
        (b"local.py", code, 0o100644),
        (b"other.py", code, 0o100644),
    ]);
    let top = tree(&[
        (b".gitignore", blob("*.py\n!top.py\nbuild/\n"), 0o100644),
        (b".ignore", blob("sub/other.py\n"), 0o100644),
        (b"top.py", code, 0o100755),
        (b"skipped.py", code, 0o100644),
        (b"sub", sub, 0o040000),
        (b"build", tree(&[(b"out.py", code, 0o100644)]), 0o040000),
        (b"module", some_commit, 0o160000),
        (b"link", blob("sub"), 0o120000),
        (b"bad\xff.py", code, 0o100644),
    ]);
    let tree = repo.find_tree(top).expect("tree");
    let signature = git2::Signature::now("t", "t@example.com").expect("signature");
    repo.commit(Some("HEAD"), &signature, &signature, "c", &tree, &[])
        .expect("commit");

    let output =
        parse_repository(dir.path(), "HEAD", &ParseOptions::default(), |_, _| {}).expect("parse");
    let parsed: Vec<&str> = output.files.iter().map(|f| f.path.as_str()).collect();
    // `*.py` ignores every Python file but `top.py`; `sub/.gitignore` re-includes `keep.py`
    // and `other.py` (deeper wins), but the top `.ignore` leaves `other.py` out (an `.ignore`
    // wins over any `.gitignore`).
    assert_eq!(parsed, ["sub/keep.py", "top.py"]);
    assert_skipped(
        &output,
        &[("link", SkipReason::Symlink)],
        &[(SkipReason::UnknownLanguage, 3), (SkipReason::Symlink, 1)],
    );

    let everything = ParseOptions {
        respect_gitignore: false,
        ..ParseOptions::default()
    };
    let output = parse_repository(dir.path(), "HEAD", &everything, |_, _| {}).expect("parse");
    assert_eq!(output.files.len(), 6, "the submodule holds nothing");
    assert_eq!(output.skipped[&SkipReason::InvalidUtf8], 1);
}

#[test]
fn oversized_limit_is_configurable() {
    let dir = repository(&[("small.py", "x = 1\n"), ("big.py", &"x = 1\n".repeat(100))]);
    let options = ParseOptions {
        max_file_bytes: 100,
        ..ParseOptions::default()
    };
    let output = parse_folder(dir.path(), &options, |_, _| {}).expect("parse");
    assert_eq!(output.files.len(), 1);
    assert_eq!(output.skipped[&SkipReason::Oversized], 1);
}

#[test]
fn parsing_stops_at_the_timeout() {
    let body = "def f(a, b):\n    return g(a) + h(b)\n".repeat(5_000);
    let dir = repository(&[("slow.py", &body)]);
    let options = ParseOptions {
        file_timeout: Some(std::time::Duration::ZERO),
        ..ParseOptions::default()
    };
    let output = parse_folder(dir.path(), &options, |_, _| {}).expect("parse");
    assert!(output.files.is_empty());
    assert_eq!(output.skipped[&SkipReason::Timeout], 1);
}

/// Deeply nested code of every language parses without overflowing a stack.
#[test]
fn deeply_nested_code_does_not_overflow() {
    const DEPTH: usize = 5_000;
    let parens = format!("{}1{}", "(".repeat(DEPTH), ")".repeat(DEPTH));
    let braces = format!("{}{}", "{".repeat(DEPTH), "}".repeat(DEPTH));
    let nested_functions: String = (0..1_000)
        .map(|i| format!("function f{i}() {{ f{i}();\n"))
        .chain(std::iter::once("}".repeat(1_000)))
        .collect();
    let files = [
        (
            "deep.py",
            format!(
                "x = {parens}\ny = {}\n",
                "[".repeat(DEPTH) + &"]".repeat(DEPTH)
            ),
        ),
        (
            "deep.rs",
            format!("fn f() {{ let x = {parens}; {braces} }}\n"),
        ),
        (
            "deep.go",
            format!("package p\nfunc f() {{ x := {parens}; {braces} }}\n"),
        ),
        ("deep.js", format!("const x = {parens};\n{braces}\n")),
        ("nested.js", nested_functions),
        (
            "deep.ts",
            format!("const x: number = {parens};\n{braces}\n"),
        ),
        ("deep.tsx", format!("const x = {parens};\n")),
        (
            "Deep.java",
            format!("class Deep {{ int f() {{ {braces} return {parens}; }} }}\n"),
        ),
        ("unbalanced.py", "(".repeat(DEPTH)),
    ];
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let dir = repository(&borrowed);
    // 1,000 nested functions are over the default limits: raised here, to check the names.
    let options = ParseOptions {
        max_nesting: 1_000,
        max_name_bytes: 16 * 1024,
        ..ParseOptions::default()
    };
    let output = parse_folder(dir.path(), &options, |_, _| {}).expect("parse");
    assert_eq!(
        output.files.len(),
        files.len(),
        "skipped: {:?}",
        output.skipped_files
    );
    let nested = output
        .files
        .iter()
        .find(|f| f.path == "nested.js")
        .expect("nested.js parsed");
    assert_eq!(nested.definitions.len(), 1_000);
    assert_eq!(
        nested.definitions[999].qualified_name.matches('.').count(),
        999 + 1,
        "the chain of 1,000 enclosing functions (and the extension's dot)"
    );
    let recursive = output
        .calls
        .iter()
        .filter(|c| c.target == Target::Internal(c.caller.to_string()))
        .count();
    assert_eq!(recursive, 1_000, "every f_i() call resolves to itself");
    let unbalanced = output
        .files
        .iter()
        .find(|f| f.path == "unbalanced.py")
        .expect("parsed");
    assert!(unbalanced.has_errors);
}

#[test]
fn output_round_trips_through_json_lines() {
    let dir = repository(PYTHON);
    let output = parse(dir.path());
    let file = dir.path().join("out.jsonl");
    write_output(&file, &output).expect("write");
    assert_eq!(read_output(&file).expect("read"), output);
    let text = std::fs::read_to_string(&file).expect("read");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("header")).expect("json");
    assert_eq!(first["record"], "header");
    assert_eq!(first["version"], 2);
    assert_eq!(
        text.lines().count(),
        1 + output.files.len() + output.skipped_files.len()
    );
    // Edges that do not follow the files' facts cannot be stored as targets only.
    let mut shuffled = output.clone();
    shuffled.calls.reverse();
    assert!(matches!(
        write_output(&file, &shuffled),
        Err(ParseError::Io { .. })
    ));
}

#[test]
fn an_output_of_many_batches_round_trips_and_names_a_damaged_line() {
    // Records are read back in batches deserialized in parallel: more files than three
    // batches, each calling the next module.
    let sources: Vec<(String, String)> = (0..700)
        .map(|i| {
            let next = (i + 1) % 700;
            let text = format!("import m{next}\n\n\ndef f{i}():\n    return m{next}.f{next}()\n");
            (format!("m{i}.py"), text)
        })
        .collect();
    let sources: Vec<(&str, &str)> = sources
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let output = parse_sources(&sources);
    assert_eq!(output.files.len(), 700);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("out.jsonl");
    write_output(&file, &output).expect("write");
    assert_eq!(read_output(&file).expect("read"), output);

    let text = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[600] = "{\"record\":\"file\",\"path\":";
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    assert!(
        matches!(
            read_output(&file),
            Err(ParseError::Format { line: 601, .. })
        ),
        "the damaged record's line is named"
    );
}

#[test]
fn output_without_header_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("out.jsonl");
    std::fs::write(
        &file,
        "{\"record\":\"skipped\",\"path\":\"a\",\"reason\":\"binary\"}\n",
    )
    .expect("write");
    assert!(matches!(read_output(&file), Err(ParseError::Format { .. })));
    std::fs::write(&file, "not json\n").expect("write");
    assert!(matches!(
        read_output(&file),
        Err(ParseError::Format { line: 1, .. })
    ));
}

#[test]
fn class_fields_holding_functions_are_methods() {
    for path in ["a.js", "a.ts", "a.tsx"] {
        let facts = source(
            path,
            "class A {\n  handle = () => this.run();\n  run() {}\n}\n",
        );
        let definitions: Vec<(DefinitionKind, &str, Option<&str>)> = facts
            .definitions
            .iter()
            .map(|d| (d.kind, d.qualified_name.as_str(), d.owner.as_deref()))
            .collect();
        let class = format!("{path}::A");
        let expected = [
            (DefinitionKind::Class, class.clone(), None),
            (
                DefinitionKind::Method,
                format!("{path}::A.handle"),
                Some(class.as_str()),
            ),
            (
                DefinitionKind::Method,
                format!("{path}::A.run"),
                Some(class.as_str()),
            ),
        ];
        let expected: Vec<(DefinitionKind, &str, Option<&str>)> = expected
            .iter()
            .map(|(k, q, o)| (*k, q.as_str(), *o))
            .collect();
        assert_eq!(definitions, expected, "{path}");
        assert_eq!(&*facts.calls[0].caller, format!("{path}::A.handle"));
    }
}

#[test]
fn module_paths_resolve_to_files() {
    let dir = repository(&[
        // Python: a src/ layout (suffix match), a package, a `..` relative import.
        ("src/proj/__init__.py", "def version():\n    pass\n"),
        ("src/proj/b.py", "def f():\n    pass\n"),
        (
            "src/proj/sub/d.py",
            "from proj.b import f\nfrom .. import version\nimport proj\n",
        ),
        // JavaScript / TypeScript: `..`, an index file, an explicit extension, a bare package.
        ("web/lib/index.ts", "export function g() {}\n"),
        (
            "web/app/main.ts",
            "import { g } from \"../lib\";\nimport React from \"react\";\n",
        ),
        // Rust: a mod.rs module.
        ("src/net/mod.rs", "pub struct Conn;\n"),
        (
            "src/main.rs",
            "use crate::net::Conn;\nuse serde::Serialize;\n",
        ),
    ]);
    let output = parse(dir.path());
    assert_eq!(
        imports(&output),
        [
            "src/main.rs:1 crate::net [Conn] -> src/net/mod.rs::Conn (Import)",
            "src/main.rs:2 serde [Serialize] -> ext:serde::Serialize (Unresolved)",
            "src/proj/sub/d.py:1 proj.b [f] -> src/proj/b.py::f (Import)",
            "src/proj/sub/d.py:2 .. [version] -> src/proj/__init__.py::version (Import)",
            "src/proj/sub/d.py:3 proj -> src/proj/__init__.py (ModulePath)",
            "web/app/main.ts:1 ../lib [g] -> web/lib/index.ts::g (Import)",
            "web/app/main.ts:2 react -> ext:react (Unresolved)",
        ]
    );
}

#[test]
fn reexports_are_followed() {
    let dir = repository(&[
        (
            "kit/__init__.py",
            "from .case import TestCase\nfrom .util import *\n",
        ),
        (
            "kit/case.py",
            "class TestCase:\n    def check(self):\n        pass\n",
        ),
        ("kit/util.py", "def tool():\n    pass\n"),
        (
            "test_app.py",
            "import kit\nfrom kit import tool, missing\n\nclass T(kit.TestCase):\n    def test(self):\n        self.check()\n        tool()\n        missing()\n",
        ),
        ("js/impl.js", "export function run() {}\n"),
        ("js/index.js", "export { run } from \"./impl\";\n"),
        ("js/main.js", "import { run } from \"./index\";\nrun();\n"),
    ]);
    let output = parse(dir.path());
    let of = |file: &str| -> Vec<String> {
        calls(&output)
            .into_iter()
            .chain(inherits(&output))
            .filter(|line| line.starts_with(file))
            .collect()
    };
    assert_eq!(
        of("test_app.py"),
        [
            "test_app.py::T.test:6 self.check -> kit/case.py::TestCase.check (Owner)",
            "test_app.py::T.test:7 tool -> kit/util.py::tool (Import)",
            "test_app.py::T.test:8 missing -> ext:kit.missing (Unresolved)",
            "test_app.py::T Extends kit.TestCase -> kit/case.py::TestCase (Import)",
        ]
    );
    assert_eq!(
        of("js/main.js"),
        ["js/main.js:2 run -> js/impl.js::run (Import)"]
    );
}

/// `n` functions, each nested in the one before: `function f0() { function f1() { ... } }`.
fn nested_functions(n: usize) -> String {
    let opens: String = (0..n).map(|i| format!("function f{i}() {{\n")).collect();
    opens + &"}\n".repeat(n)
}

/// The files skipped (path and reason) and the counts per reason are these.
fn assert_skipped(
    output: &ParseOutput,
    files: &[(&str, SkipReason)],
    counts: &[(SkipReason, u64)],
) {
    let skipped: Vec<(&str, SkipReason)> = output
        .skipped_files
        .iter()
        .map(|s| (s.path.as_str(), s.reason))
        .collect();
    assert_eq!(skipped, files);
    let counted: Vec<(SkipReason, u64)> = output.skipped.iter().map(|(r, c)| (*r, *c)).collect();
    assert_eq!(counted, counts);
}

#[test]
fn files_over_a_limit_are_skipped_with_the_reason() {
    let long_name = "x".repeat(DEFAULT_MAX_NAME_BYTES);
    let many_calls = "f()\n".repeat(1_001);
    let dir = repository(&[
        ("ok.js", &nested_functions(DEFAULT_MAX_NESTING)),
        ("deep.js", &nested_functions(DEFAULT_MAX_NESTING + 1)),
        ("long.py", &format!("def {long_name}():\n    pass\n")),
        ("many.py", &many_calls),
    ]);
    let options = ParseOptions {
        max_facts: 1_000,
        ..ParseOptions::default()
    };
    let output = parse_folder(dir.path(), &options, |_, _| {}).expect("parse");
    assert_skipped(
        &output,
        &[
            ("deep.js", SkipReason::TooDeep),
            ("long.py", SkipReason::NameTooLong),
            ("many.py", SkipReason::TooManyFacts),
        ],
        &[
            (SkipReason::TooDeep, 1),
            (SkipReason::NameTooLong, 1),
            (SkipReason::TooManyFacts, 1),
        ],
    );
    let ok = &output.files[0];
    assert_eq!(ok.path, "ok.js");
    assert_eq!(ok.definitions.len(), DEFAULT_MAX_NESTING);
}

#[test]
fn a_cancelled_parse_stops_with_an_error() {
    let dir = repository(&[("a.py", "def f():\n    pass\n")]);
    let options = ParseOptions::default();
    options.cancel.store(true, Ordering::Relaxed);
    let result = parse_folder(dir.path(), &options, |_, _| {});
    assert!(matches!(result, Err(ParseError::Cancelled)), "{result:?}");
}

#[test]
fn a_file_out_of_time_for_resolution_is_left_out_and_unlinked() {
    let files = vec![
        source("a.py", "class A:\n    pass\n\ndef f():\n    pass\n"),
        source(
            "b.py",
            "from a import f, A\n\nclass B(A):\n    pass\n\nf()\n",
        ),
    ];
    let resolved = resolve::resolve_within(files.clone(), &[Some(Duration::ZERO), None]);
    assert_eq!(resolved.timed_out, ["a.py"]);
    let paths: Vec<&str> = resolved.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["b.py"]);
    let output = ParseOutput {
        files: resolved.files,
        calls: resolved.calls,
        imports: resolved.imports,
        inherits: resolved.inherits,
        ..ParseOutput::default()
    };
    assert_eq!(
        imports(&output),
        [
            "b.py:1 a [f] -> ext:a.f (Unresolved)",
            "b.py:1 a [A] -> ext:a.A (Unresolved)",
        ]
    );
    assert_eq!(calls(&output), ["b.py:6 f -> ext:f (Unresolved)"]);
    assert_eq!(
        inherits(&output),
        ["b.py::B Extends A -> ext:A (Unresolved)"]
    );
    // With time for both, the same files link.
    let resolved = resolve::resolve_within(files, &[None, Some(Duration::from_secs(60))]);
    assert!(resolved.timed_out.is_empty());
    assert_eq!(resolved.calls[0].target, Target::Internal("a.py::f".into()));
}

#[test]
fn rust_calls_with_turbofish() {
    let facts = source(
        "src/m.rs",
        "fn f() {\n    a::<u8>();\n    x.b::<u8>();\n    C::d::<u8>();\n    e();\n}\n",
    );
    let calls: Vec<(Option<&str>, &str)> = facts
        .calls
        .iter()
        .map(|c| (c.receiver.as_deref(), &*c.callee))
        .collect();
    assert_eq!(
        calls,
        [(None, "a"), (Some("x"), "b"), (Some("C"), "d"), (None, "e")]
    );
}

#[test]
fn facts_not_kept_are_handed_over_before_resolution_and_the_output_is_the_same() {
    let dir = repository(&[
        ("pkg/a.py", "from pkg.b import g\n\ndef f():\n    g()\n"),
        (
            "pkg/b.py",
            "class B:\n    pass\n\ndef g():\n    return B()\n",
        ),
    ]);
    let scratch = tempfile::tempdir().expect("temp dir");
    let repo = scratch.path().join("snapshot.git");
    commit_directory(dir.path(), &repo).expect("commit the folder");
    let options = ParseOptions::default();
    let run = |keep: bool| {
        let handed = std::cell::RefCell::new(Vec::new());
        let parsed = parse_repository_reusing(
            &repo,
            "HEAD",
            &options,
            |_| None,
            |facts| {
                handed.replace(facts.iter().map(|f| f.path.clone()).collect());
                keep
            },
            |_, _| {},
        )
        .expect("parse");
        (parsed, handed.into_inner())
    };
    let (kept, handed_kept) = run(true);
    let (dropped, handed_dropped) = run(false);
    assert_eq!(handed_kept, ["pkg/a.py", "pkg/b.py"]);
    assert_eq!(handed_dropped, handed_kept);
    let kept_paths: Vec<&str> = kept.unresolved.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(kept_paths, ["pkg/a.py", "pkg/b.py"]);
    assert!(dropped.unresolved.is_empty());
    assert_eq!(dropped.output, kept.output);
    assert!(
        dropped
            .output
            .calls
            .iter()
            .any(|c| matches!(&c.target, Target::Internal(t) if t == "pkg/b.py::g")),
        "the call resolves across files: {:?}",
        dropped.output.calls
    );
}
