<?php
/**
 * Plugin Name:          Tally Loyalty
 * Description:          Shows your Tally loyalty program on the store, signed in as the customer, and connects WooCommerce's orders, refunds and customers to Tally with WooCommerce's own webhooks.
 * Version:              0.1.0
 * Requires at least:    6.5
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * WC requires at least: 8.0
 * Author:               Tally
 * License:              AGPL-3.0-only
 * Text Domain:          tally-loyalty
 * Domain Path:          /languages
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

define( 'TALLY_LOYALTY_VERSION', '0.1.0' );

require_once __DIR__ . '/includes/class-tally-loyalty-token.php';
require_once __DIR__ . '/includes/class-tally-loyalty-settings.php';
require_once __DIR__ . '/includes/class-tally-loyalty-client.php';
require_once __DIR__ . '/includes/class-tally-loyalty-connector.php';
require_once __DIR__ . '/includes/class-tally-loyalty-widget.php';
require_once __DIR__ . '/includes/class-tally-loyalty-admin.php';

add_action(
	'init',
	static function () {
		// WordPress 6.5+ reads languages/tally-loyalty-{locale}.l10n.php.
		load_plugin_textdomain( 'tally-loyalty', false, dirname( plugin_basename( __FILE__ ) ) . '/languages' );
	}
);
add_action( 'wp_footer', array( 'Tally_Loyalty_Widget', 'print_script_tag' ) );
add_action( 'woocommerce_checkout_create_order', array( 'Tally_Loyalty_Widget', 'attach_referral' ) );
add_action( 'woocommerce_store_api_checkout_update_order_from_request', array( 'Tally_Loyalty_Widget', 'attach_referral' ) );
if ( is_admin() ) {
	Tally_Loyalty_Admin::register();
}
