; Java: classes, records (as classes), interfaces, annotation types (as interfaces), enums,
; methods and constructors, method calls and `new`, imports, `extends` and `implements`.
; Vocabulary: see src/parse/extractor.rs.

[(class_declaration) (record_declaration)] @definition.class
[(interface_declaration) (annotation_type_declaration)] @definition.interface
(enum_declaration) @definition.enum
[(method_declaration) (constructor_declaration)] @definition.method

(superclass
  [(type_identifier) (scoped_type_identifier) (generic_type)] @reference.inherits)

(super_interfaces
  (type_list
    [(type_identifier) (scoped_type_identifier) (generic_type)] @reference.implements))

(extends_interfaces
  (type_list
    [(type_identifier) (scoped_type_identifier) (generic_type)] @reference.inherits))

(method_invocation
  !object
  name: (identifier) @name) @reference.call

(method_invocation
  object: (_) @receiver
  name: (identifier) @name) @reference.call

(object_creation_expression
  type: [
    (type_identifier) @name
    (generic_type (type_identifier) @name)
  ]) @reference.call

; import a.b.C;  import static a.b.C.m;  import a.b.*;
(import_declaration
  (scoped_identifier
    scope: (_) @import.module
    name: (identifier) @import.name)) @import

(import_declaration
  (scoped_identifier) @import.module
  (asterisk) @import.wildcard) @import
