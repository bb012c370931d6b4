import schemaAssertion from '@authenio/samlify-node-xmllint/build/schemas/saml-schema-assertion-2.0.xsd';
import schemaProtocol from '@authenio/samlify-node-xmllint/build/schemas/saml-schema-protocol-2.0.xsd';
import schemaXenc from '@authenio/samlify-node-xmllint/build/schemas/xenc-schema.xsd';
import schemaDsig from '@authenio/samlify-node-xmllint/build/schemas/xmldsig-core-schema.xsd';

// node-xmllint (libxml2's xmllint compiled to JavaScript) ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const xmllint: { validateXML(input: { xml: string; schema: string[] }): { errors: string[] | null } } = require('node-xmllint');

// The schemas import each other by file name; xmllint's virtual file system names them file_N.xsd in order.
const SCHEMAS = [
  schemaAssertion.replace('xmldsig-core-schema.xsd', 'file_1.xsd').replace('xenc-schema.xsd', 'file_2.xsd'),
  schemaDsig,
  schemaXenc.replace('xmldsig-core-schema.xsd', 'file_1.xsd'),
  schemaProtocol.replace('saml-schema-assertion-2.0.xsd', 'file_0.xsd').replace('xmldsig-core-schema.xsd', 'file_1.xsd'),
];

export class SchemaError extends Error {}

/**
 * samlify's schema validator hook: SAML protocol messages checked against the SAML 2.0 XSDs, offline.
 * Same schemas as @authenio/samlify-node-xmllint, but the reason travels in the error instead of
 * being printed to the console.
 */
export async function validateSamlSchema(xml: string): Promise<string> {
  const { errors } = xmllint.validateXML({ xml, schema: SCHEMAS });
  if (errors?.length)
    throw new SchemaError(
      errors
        .map((e) => e.replace(/^file_\d+\.xml:/, 'line '))
        .slice(0, 3)
        .join('; '),
    );
  return 'SUCCESS_VALIDATE_XML';
}
