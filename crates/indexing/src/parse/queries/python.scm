; Python: classes, functions (methods when directly inside a class), calls, imports, bases.
; Vocabulary: see src/parse/extractor.rs.

(class_definition) @definition.class
(function_definition) @definition.function

(class_definition
  superclasses: (argument_list
    [(identifier) (attribute)] @reference.inherits))

(call
  function: [
    (identifier) @name
    (attribute object: (_) @receiver attribute: (identifier) @name)
  ]) @reference.call

; import a.b.c / import a.b as c
(import_statement
  name: [
    (dotted_name) @import.module
    (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)
  ]) @import

; from m import a, b as c, *
(import_from_statement
  module_name: (_) @import.module
  name: [
    (dotted_name) @import.name
    (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)
  ]) @import

(import_from_statement
  module_name: (_) @import.module
  (wildcard_import) @import.wildcard) @import

(future_import_statement
  "__future__" @import.module
  name: (dotted_name) @import.name) @import
