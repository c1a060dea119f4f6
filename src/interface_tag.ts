/**
 * The tag and enumerable members every Web IDL interface gives its
 * prototype.
 *
 * @module
 */

/**
 * Gives `constructor`'s prototype the `Symbol.toStringTag` a Web IDL
 * interface has, so that `Object.prototype.toString` names the interface as
 * browsers do (`[object WebSocketStream]`), instead of `[object Object]` or
 * an inherited tag, and makes its members enumerable, as Web IDL's are. The
 * name is given, not read from the class, which a bundler may rename.
 */
export function tagInterface(
  constructor: { readonly prototype: object },
  name: string,
): void {
  const { prototype } = constructor;
  // A class's members are not enumerable; Web IDL's attributes and
  // operations are, so `for...in` lists them as in browsers.
  for (const member of Object.getOwnPropertyNames(prototype)) {
    if (member === "constructor") continue;
    Object.defineProperty(prototype, member, { enumerable: true });
  }
  Object.defineProperty(prototype, Symbol.toStringTag, {
    value: name,
    configurable: true,
  });
}
