// A hardened front to @xmldom/xmldom for messages that arrive from other parties (SGP.02 SOAP).
// Threats it defends against: XXE and entity expansion ("billion laughs") — any DOCTYPE or ENTITY
// declaration is refused before parsing, so no entity is ever declared, let alone expanded; memory
// and stack exhaustion — the text, the number of elements and the nesting depth are bounded, and
// the tree is walked without recursion; parser leniency — every warning of the parser is an error.
// Total: any input gives a Document or a DecodeError with a stable code, never an exception.
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { decodeError, ok, type Result } from './result.js';

export interface XmlLimits {
  /** Largest text accepted, in UTF-16 code units (the caller bounds the bytes on the wire). */
  readonly maxChars: number;
  readonly maxElements: number;
  readonly maxDepth: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = Object.freeze({
  maxChars: 1_048_576,
  maxElements: 20_000,
  maxDepth: 48,
});

// DTDs are the one road to entities (internal or external); SOAP 1.2 §5 forbids them in any case.
const FORBIDDEN = /<!DOCTYPE|<!ENTITY|<!ATTLIST|<!ELEMENT|<!NOTATION/i;

const STOP_PARSING = Symbol('stop parsing');

export const ELEMENT_NODE = 1;
export const TEXT_NODE = 3;
export const CDATA_SECTION_NODE = 4;
export const PROCESSING_INSTRUCTION_NODE = 7;
export const COMMENT_NODE = 8;

/** Parse `text` as an XML document, refusing DTDs and anything past `limits`. */
export function parseXmlSafely(text: string, limits: XmlLimits = DEFAULT_XML_LIMITS): Result<Document> {
  if (text.length > limits.maxChars) {
    return decodeError(
      'XML_TOO_LARGE',
      `the document has ${text.length} characters; at most ${limits.maxChars}`,
    );
  }
  const forbidden = FORBIDDEN.exec(text);
  if (forbidden !== null) {
    return decodeError('XML_DTD_FORBIDDEN', 'DOCTYPE and entity declarations are refused', forbidden.index);
  }
  let problem: string | undefined;
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        problem ??= `${level}: ${message}`;
        // Stop at the first problem: a lenient parse of a broken document is not a message.
        // (A constant, not an Error: no stack trace to build for every hostile input.)
        throw STOP_PARSING;
      },
    }).parseFromString(text, 'text/xml');
  } catch (e) {
    return decodeError('XML_MALFORMED', problem ?? (e instanceof Error ? e.message : 'not well-formed XML'));
  }
  if (problem !== undefined) return decodeError('XML_MALFORMED', problem);
  const root = doc.documentElement;
  if (root === null || root === undefined) return decodeError('XML_MALFORMED', 'no root element');
  // Iterative walk: counts elements, bounds depth, and refuses processing instructions and any
  // doctype node the parser might have built despite the scan above.
  let elements = 0;
  const stack: Array<{ node: Node; depth: number }> = [{ node: root, depth: 1 }];
  for (let child = doc.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === 10) return decodeError('XML_DTD_FORBIDDEN', 'DOCTYPE refused');
    if (
      child.nodeType === PROCESSING_INSTRUCTION_NODE &&
      (child as unknown as { target: string }).target !== 'xml'
    ) {
      return decodeError('XML_PI_FORBIDDEN', 'processing instructions are refused');
    }
  }
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: Node; depth: number };
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) {
      return decodeError('XML_PI_FORBIDDEN', 'processing instructions are refused');
    }
    if (node.nodeType !== ELEMENT_NODE) continue;
    elements += 1;
    if (elements > limits.maxElements) {
      return decodeError('XML_TOO_MANY_ELEMENTS', `more than ${limits.maxElements} elements`);
    }
    if (depth > limits.maxDepth) return decodeError('XML_TOO_DEEP', `nesting deeper than ${limits.maxDepth}`);
    for (let child = node.firstChild; child !== null; child = child.nextSibling) {
      stack.push({ node: child, depth: depth + 1 });
    }
  }
  return ok(doc);
}

/** The element children of `parent`, in document order (text, comments and whitespace skipped). */
export function childElements(parent: Node): Element[] {
  const out: Element[] = [];
  for (let child = parent.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) out.push(child as Element);
  }
  return out;
}

/** The concatenated character content of an element's direct text and CDATA children. */
export function textOf(element: Element): string {
  let text = '';
  for (let child = element.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) text += child.nodeValue ?? '';
  }
  return text;
}
