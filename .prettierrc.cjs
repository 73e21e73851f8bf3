/** @type {import('prettier').Config} */
// OCA's prettier configuration (Odoo >= 18), with XML indented by 4 as Odoo's own views.
const config = {
    plugins: [require.resolve("@prettier/plugin-xml")],
    bracketSpacing: false,
    printWidth: 88,
    proseWrap: "always",
    semi: true,
    trailingComma: "es5",
    xmlWhitespaceSensitivity: "preserve",
    overrides: [{files: "*.xml", options: {tabWidth: 4}}],
};

module.exports = config;
